//! Bearer tokens: the OAuth client-credentials exchange both vendors use, and a cache that
//! keeps a token until shortly before it expires and renews it once when the vendor
//! rejects it early (revoked, or expired sooner than announced).

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use reqwest::header::ACCEPT;
use serde::Deserialize;

use super::RefreshError;
use super::http::{Response, Upstream, basic_credentials, status_error};
use super::record::Scalar;
use crate::secret::Secret;

/// The longest a token is kept, whatever the vendor says (theirs live 15 to 30 minutes).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A bearer token and how long the vendor says it lives.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: Secret,
    pub lifetime: Duration,
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
    pub response: Response,
    pub token: Secret,
    /// The first token was rejected and this answer came with a new one.
    pub renewed: bool,
}

#[derive(Default)]
pub(crate) struct TokenCache(tokio::sync::Mutex<Option<Cached>>);

impl TokenCache {
    /// The cached token, or a new one from `fetch`.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, RefreshError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, RefreshError>>,
    {
        let mut cached = self.0.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let Token { value, lifetime } = fetch().await?;
        // Renew a minute early, or a fifth of the lifetime early for short-lived tokens.
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        *cached = Some(Cached {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(value)
    }

    /// Drops `rejected` if it is still the cached token. Requests running side by side
    /// may all be refused the same expired token: the first renews it, and the others then
    /// use the new one instead of dropping it and fetching yet another.
    async fn forget(&self, rejected: &Secret) {
        let mut cached = self.0.lock().await;
        if cached.as_ref().is_some_and(|c| c.value == *rejected) {
            *cached = None;
        }
    }

    /// Sends a request with a token. If the answer's status is in `rejected`, the token is
    /// dropped, a new one fetched and the request sent once more; that second answer is
    /// returned whatever it is.
    pub(crate) async fn send<F, Fut, S, SFut>(
        &self,
        fetch: F,
        rejected: &[u16],
        send: S,
    ) -> Result<Sent, RefreshError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Token, RefreshError>>,
        S: Fn(Secret) -> SFut,
        SFut: Future<Output = Result<Response, RefreshError>>,
    {
        let token = self.get(&fetch).await?;
        let response = send(token.clone()).await?;
        if !rejected.contains(&response.status) {
            return Ok(Sent {
                response,
                token,
                renewed: false,
            });
        }
        self.forget(&token).await;
        let token = self.get(&fetch).await?;
        let response = send(token.clone()).await?;
        Ok(Sent {
            response,
            token,
            renewed: true,
        })
    }
}
