//! Bearer tokens: cached until shortly before they expire, renewed once when the vendor
//! rejects one early (revoked, or expired sooner than announced).

use std::future::Future;
use std::time::{Duration, Instant};

use crate::secret::Secret;
use crate::source::RefreshError;
use crate::upstream::{Response, UpstreamError};

struct Cached {
    value: Secret,
    renew_at: Instant,
}

#[derive(Default)]
pub struct TokenCache(tokio::sync::Mutex<Option<Cached>>);

impl TokenCache {
    /// The cached token, or a new one from `fetch` (which returns it with its lifetime).
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, RefreshError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, Duration), RefreshError>>,
    {
        let mut cached = self.0.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let (value, lifetime) = fetch().await?;
        // Renew a minute early, or a fifth of the lifetime early for short-lived tokens.
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        *cached = Some(Cached {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(value)
    }

    pub async fn forget(&self) {
        *self.0.lock().await = None;
    }

    /// Sends a request with a token. If the answer's status is in `rejected`, the token is
    /// dropped, a new one fetched and the request sent once more; that second answer is
    /// returned whatever it is, with the token it was sent with.
    pub async fn send<F, Fut, S, SFut>(
        &self,
        fetch: F,
        rejected: &[u16],
        send: S,
    ) -> Result<(Response, Secret, bool), RefreshError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(Secret, Duration), RefreshError>>,
        S: Fn(Secret) -> SFut,
        SFut: Future<Output = Result<Response, UpstreamError>>,
    {
        let token = self.get(&fetch).await?;
        let response = send(token.clone()).await?;
        if !rejected.contains(&response.status) {
            return Ok((response, token, false));
        }
        self.forget().await;
        let token = self.get(&fetch).await?;
        let response = send(token.clone()).await?;
        Ok((response, token, true))
    }
}
