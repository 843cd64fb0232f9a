//! Bearer tokens: the OAuth client-credentials exchange both vendors use, and a cache that
//! keeps a token until shortly before it expires and renews it once when the vendor
//! rejects it early (revoked, or expired sooner than announced).

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use reqwest::header::ACCEPT;
use serde::Deserialize;

use super::RefreshError;
use super::http::{Credential, Response, Upstream, basic_credentials, status_error};
use super::record::Scalar;
use crate::secret::Secret;

/// The longest a token is kept, whatever the vendor says (theirs live 15 to 30 minutes).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A bearer token and how long the vendor says it lives.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) value: Secret,
    pub(crate) lifetime: Duration,
}

/// `{"access_token": "...", "token_type": "bearer", "expires_in": 900}`.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
}

/// A number of seconds as a number or a numeric string; anything else counts as absent.
fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(Scalar::deserialize(deserializer)?.as_u64().ok().flatten())
}

/// The client-credentials exchange: `request` (the vendor's token URL, method and body) is
/// sent with HTTP Basic `client_id:secret`; a lifetime the answer does not state is
/// `default_lifetime`.
pub(crate) async fn client_credentials(
    upstream: &Upstream,
    request: RequestBuilder,
    client_id: &str,
    secret: &Secret,
    default_lifetime: Duration,
) -> Result<Token, RefreshError> {
    let request = request
        .basic_auth(client_id, Some(secret.expose()))
        .header(ACCEPT, "application/json");
    let response = upstream.execute("token", request).await?;
    if !response.is_success() {
        let pair = basic_credentials(client_id, secret);
        return Err(status_error("token", &response, &[secret, &pair]));
    }
    let body: TokenResponse =
        serde_json::from_slice(&response.body).map_err(|e| RefreshError::Decode {
            endpoint: "token",
            detail: format!("unexpected response: {e}"),
        })?;
    // A lifetime that is not a number of seconds falls back to the vendor's documented one;
    // an absurd one is capped, so no vendor value can overflow the renewal time.
    let lifetime = body
        .expires_in
        .map_or(default_lifetime, Duration::from_secs)
        .min(MAX_LIFETIME);
    Ok(Token {
        value: Secret::new(body.access_token),
        lifetime,
    })
}

struct Cached {
    value: Secret,
    renew_at: Instant,
}

/// A request's final answer and the token it was sent with (to keep that token out of
/// error messages).
pub(crate) struct Sent {
    pub(crate) response: Response,
    pub(crate) token: Secret,
    /// The first token was rejected and this answer came with a new one.
    pub(crate) renewed: bool,
}

/// A request's bearer token, as the limiter checks it: sent only while it is the token to
/// use, and refused for every waiting request as soon as the vendor refuses it.
pub(crate) struct Bearer<'a> {
    cache: &'a TokenCache,
    pub(crate) token: Secret,
    rejected: &'a [u16],
}

impl Credential for Bearer<'_> {
    fn usable(&self) -> bool {
        self.cache.is_current(&self.token)
    }

    fn answered(&self, status: u16) {
        if self.rejected.contains(&status) {
            self.cache.refused(&self.token);
        }
    }
}

#[derive(Default)]
pub(crate) struct TokenCache {
    /// The token requests should use now; `None` before the first, and from the moment the
    /// vendor refuses one until it is renewed. Read without waiting, when a request gets its
    /// slot at the limiter.
    cached: std::sync::Mutex<Option<Cached>>,
    /// Held while a token is fetched, so requests side by side fetch one, not one each.
    fetching: tokio::sync::Mutex<()>,
}

impl TokenCache {
    /// The cached token, or a new one from `fetch`.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, RefreshError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, RefreshError>>,
    {
        let _fetching = self.fetching.lock().await;
        // Checked after waiting: a request that waited for another's fetch uses its token.
        if let Some(token) = self.cached.lock().expect("token").as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let Token { value, lifetime } = fetch().await?;
        // Renew a minute early, or a fifth of the lifetime early for short-lived tokens.
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        *self.cached.lock().expect("token") = Some(Cached {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(value)
    }

    /// Whether `token` is still the one to use: not replaced by a renewal, and not
    /// refused and waiting for one.
    fn is_current(&self, token: &Secret) -> bool {
        self.cached
            .lock()
            .expect("token")
            .as_ref()
            .is_some_and(|c| c.value == *token)
    }

    /// Drops `refused` if it is still the cached token, so no request is handed it again.
    /// Requests running side by side may all be refused the same expired token: the first
    /// drops it, and the others then use its renewal instead of dropping that one too.
    fn refused(&self, refused: &Secret) {
        let mut cached = self.cached.lock().expect("token");
        if cached.as_ref().is_some_and(|c| c.value == *refused) {
            *cached = None;
        }
    }

    /// Sends `send(bearer)` with the current token until it is sent: `send` answers `None`
    /// when the token was replaced while the request waited for a slot.
    async fn send_current<'a, F, Fut, S, SFut>(
        &'a self,
        fetch: &F,
        rejected: &'a [u16],
        send: &S,
    ) -> Result<(Secret, Response), RefreshError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Token, RefreshError>>,
        S: Fn(Bearer<'a>) -> SFut,
        SFut: Future<Output = Result<Option<Response>, RefreshError>>,
    {
        loop {
            let token = self.get(fetch).await?;
            let bearer = Bearer {
                cache: self,
                token: token.clone(),
                rejected,
            };
            if let Some(response) = send(bearer).await? {
                return Ok((token, response));
            }
        }
    }

    /// Sends a request with a token: `send` sends it with
    /// [`Upstream::execute_with`](super::http::Upstream::execute_with) and the
    /// [`Bearer`] it is given. If the answer's status is in `rejected`, the token has been
    /// dropped (by the [`Bearer`], before the slot was given back); a new one is fetched and
    /// the request sent once more; that second answer is returned whatever it is.
    pub(crate) async fn send<'a, F, Fut, S, SFut>(
        &'a self,
        fetch: F,
        rejected: &'a [u16],
        send: S,
    ) -> Result<Sent, RefreshError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Token, RefreshError>>,
        S: Fn(Bearer<'a>) -> SFut,
        SFut: Future<Output = Result<Option<Response>, RefreshError>>,
    {
        let (token, response) = self.send_current(&fetch, rejected, &send).await?;
        if !rejected.contains(&response.status) {
            return Ok(Sent {
                response,
                token,
                renewed: false,
            });
        }
        let (token, response) = self.send_current(&fetch, rejected, &send).await?;
        Ok(Sent {
            response,
            token,
            renewed: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_refused_token_is_never_handed_out_again() {
        let cache = TokenCache::default();
        let fetched = AtomicUsize::new(0);
        let fetch = || async {
            let n = fetched.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Token {
                value: Secret::new(format!("token-{n}")),
                lifetime: Duration::from_secs(900),
            })
        };
        let first = cache.get(&fetch).await.unwrap();
        assert!(
            cache.get(&fetch).await.unwrap() == first,
            "kept while valid"
        );
        let bearer = |token: &Secret| Bearer {
            cache: &cache,
            token: token.clone(),
            rejected: &[401],
        };
        // Another status leaves it usable; a refusal stops every request waiting with it,
        // even if the refused request's refresh ends before it drops the token.
        bearer(&first).answered(500);
        assert!(bearer(&first).usable());
        bearer(&first).answered(401);
        assert!(!bearer(&first).usable());
        let second = cache.get(&fetch).await.unwrap();
        assert!(second != first);
        assert!(bearer(&second).usable());
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
    }
}
