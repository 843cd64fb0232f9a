//! The Code42 API: authentication (an API client's OAuth token, or a user's legacy token)
//! and `GET DeviceBackupReport` pages.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::ACCEPT;

use super::config::{Code42Auth, Code42Spec};
use crate::secret::Secret;
use crate::sources::RefreshError;
use crate::sources::http::{Response, Upstream, basic_credentials, status_error, vendor_text};
use crate::sources::token::{Sent, Token, TokenCache, client_credentials};

/// Lifetime of a legacy user token, which the API does not report.
const USER_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// "Authentication tokens obtained from an API client expire after 15 minutes."
const API_CLIENT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub(crate) struct Client {
    pub(crate) spec: Code42Spec,
    upstream: Upstream,
    token: TokenCache,
}

#[derive(serde::Deserialize)]
struct UserTokenResponse {
    data: UserTokenData,
}

#[derive(serde::Deserialize)]
struct UserTokenData {
    v3_user_token: String,
}

impl Client {
    pub(super) fn new(spec: Code42Spec, upstream: Upstream) -> Client {
        Client {
            spec,
            upstream,
            token: TokenCache::default(),
        }
    }

    pub(crate) async fn fetch_token(&self) -> Result<Token, RefreshError> {
        match &self.spec.auth {
            Code42Auth::ApiClient { client_id, secret } => {
                let secret = secret.load()?;
                let mut url = self.upstream.url("/api/v3/oauth/token");
                url.query_pairs_mut()
                    .append_pair("grant_type", "client_credentials");
                let request = self.upstream.http().post(url);
                client_credentials(
                    &self.upstream,
                    request,
                    client_id,
                    &secret,
                    API_CLIENT_TOKEN_LIFETIME,
                )
                .await
            }
            Code42Auth::User { username, password } => {
                let password = password.load()?;
                let mut url = self.upstream.url("/api/v3/auth/jwt");
                url.query_pairs_mut().append_pair("useBody", "true");
                let request = self
                    .upstream
                    .http()
                    .get(url)
                    .basic_auth(username, Some(password.expose()))
                    .header(ACCEPT, "application/json");
                let response = self.upstream.execute("token", request).await?;
                if !response.is_success() {
                    let pair = basic_credentials(username, &password);
                    return Err(status_error("token", &response, &[&password, &pair]));
                }
                let body: UserTokenResponse =
                    serde_json::from_slice(&response.body).map_err(|e| RefreshError::Decode {
                        endpoint: "token",
                        detail: format!("unexpected response: {e}"),
                    })?;
                Ok(Token {
                    value: Secret::new(body.data.v3_user_token),
                    lifetime: USER_TOKEN_LIFETIME,
                })
            }
        }
    }

    /// GET with the bearer token; a 401 means the token was revoked or expired early, so it
    /// is fetched again and the request retried once.
    async fn authorized_get(
        &self,
        endpoint: &'static str,
        url: Url,
    ) -> Result<Response, RefreshError> {
        let Sent {
            response,
            token,
            renewed,
        } = self
            .token
            .send(
                || self.fetch_token(),
                &[401],
                |bearer| {
                    let request = self
                        .upstream
                        .http()
                        .get(url.clone())
                        .bearer_auth(bearer.token.expose())
                        .header(ACCEPT, "application/json");
                    async move { self.upstream.execute_with(endpoint, request, &bearer).await }
                },
            )
            .await?;
        if response.status == 401 && renewed {
            return Err(RefreshError::TokenRejected {
                endpoint,
                message: vendor_text(&response, &[&token]),
            });
        }
        if !response.is_success() {
            return Err(status_error(endpoint, &response, &[&token]));
        }
        Ok(response)
    }

    pub(crate) async fn get_page(&self, page: u32) -> Result<Response, RefreshError> {
        self.authorized_get("device_backup_report", self.page_url(page))
            .await
    }

    fn page_url(&self, page: u32) -> Url {
        let mut url = self.upstream.url(&self.spec.report_path);
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in &self.spec.query {
                query.append_pair(key, value);
            }
            query.append_pair("pgNum", &page.to_string());
            query.append_pair("pgSize", &self.spec.page_size.to_string());
        }
        url
    }
}

/// An error response's words: Code42's envelope is a list of `{name, description}`
/// (`[{"name":"SYSTEM","description":"Unable to find org"}]`).
pub(super) fn error_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Item {
        name: Option<String>,
        description: Option<String>,
    }
    let items: Vec<Item> = serde_json::from_slice(body).ok()?;
    let text = items
        .into_iter()
        .map(|i| match (i.name, i.description) {
            (Some(n), Some(d)) => format!("{n}: {d}"),
            (n, d) => n.or(d).unwrap_or_default(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_envelope_is_read() {
        assert_eq!(
            error_message(br#"[{"name":"SYSTEM","description":"Unable to find org"}]"#).as_deref(),
            Some("SYSTEM: Unable to find org")
        );
        assert_eq!(
            error_message(br#"[{"description":"HTTP 401 Unauthorized"},{"name":"X"}]"#).as_deref(),
            Some("HTTP 401 Unauthorized; X")
        );
        assert_eq!(error_message(b"<html>Bad gateway</html>"), None);
        assert_eq!(error_message(b"[]"), None);
    }
}
