//! Why a refresh (or a `check-source`) failed, as a type: the engine logs it and counts it,
//! `check-source` picks its advice by the variant, and tests match variants instead of words.
//! Every message names the endpoint and what went wrong, and never a secret: vendor text is
//! redacted before it gets here ([`super::http::excerpt`]).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// The vendor answered with an error status; `message` is its own text, redacted.
    #[error("{endpoint}: HTTP {status}: {message}")]
    Status {
        endpoint: &'static str,
        status: u16,
        message: String,
        /// What a 429's `Retry-After` asked for.
        retry_after: Option<Duration>,
    },
    /// A request was refused with 401 even with a token issued just before it.
    #[error("{endpoint}: HTTP 401 again with a newly issued token: {message}")]
    TokenRejected {
        endpoint: &'static str,
        message: String,
    },
    /// No response: connection refused, DNS, TLS.
    #[error("{endpoint}: request failed: {detail}")]
    Transport {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: request timed out")]
    RequestTimeout { endpoint: &'static str },
    /// The body ended early or could not be read.
    #[error("{endpoint}: response body incomplete: {detail}")]
    Body {
        endpoint: &'static str,
        detail: String,
    },
    #[error("{endpoint}: response larger than the limit of {limit} bytes")]
    TooLarge {
        endpoint: &'static str,
        limit: usize,
    },
    /// A response that is not what the API sends (not JSON, no rows array, no token).
    #[error("{endpoint}: {detail}")]
    Decode {
        endpoint: &'static str,
        detail: String,
    },
    /// Paging that does not end or leads elsewhere.
    #[error("{endpoint}: {detail}")]
    Paging {
        endpoint: &'static str,
        detail: String,
    },
    /// A configured credential cannot be read (its file or variable, never its value).
    #[error("{0}")]
    Credentials(String),
    /// The whole refresh took longer than the source's `timeout`.
    #[error("refresh did not finish within the timeout of {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// The HTTP client cannot be built (CA file, TLS settings).
    #[error("{0}")]
    Client(String),
    /// The task downloading a page ahead of the one being parsed panicked or was cancelled
    /// (a bug): the refresh fails and the last good data stays.
    #[error("page {page}: the task reading it failed: {detail}")]
    PageTask { page: u64, detail: String },
    /// The source's refresh task ended unexpectedly (a bug); it is restarted.
    #[error("the refresh task ended unexpectedly ({0}); restarting it")]
    TaskEnded(String),
}

impl From<crate::secret::SecretError> for RefreshError {
    fn from(error: crate::secret::SecretError) -> Self {
        RefreshError::Credentials(error.to_string())
    }
}

impl RefreshError {
    /// How long the vendor asked us to wait before the next request.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            RefreshError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short, bounded name of the variant, for log fields.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            RefreshError::Status { .. } => "http_status",
            RefreshError::TokenRejected { .. } => "token_rejected",
            RefreshError::Transport { .. } => "transport",
            RefreshError::RequestTimeout { .. } => "request_timeout",
            RefreshError::Body { .. } => "body",
            RefreshError::TooLarge { .. } => "too_large",
            RefreshError::Decode { .. } => "decode",
            RefreshError::Paging { .. } => "paging",
            RefreshError::Credentials(_) => "credentials",
            RefreshError::Timeout(_) => "timeout",
            RefreshError::Client(_) => "client",
            RefreshError::PageTask { .. } => "page_task",
            RefreshError::TaskEnded(_) => "task_ended",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_endpoint_and_the_problem() {
        let status = RefreshError::Status {
            endpoint: "token",
            status: 429,
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(status.to_string(), "token: HTTP 429: slow down");
        assert_eq!(status.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(
            RefreshError::Timeout(Duration::from_secs(120)).to_string(),
            "refresh did not finish within the timeout of 2m"
        );
        assert_eq!(
            RefreshError::TooLarge {
                endpoint: "events",
                limit: 1024
            }
            .to_string(),
            "events: response larger than the limit of 1024 bytes"
        );
    }
}
