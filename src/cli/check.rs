//! `--config.check`, `check-source` and `healthcheck`: try something, say what was found.

use std::path::Path;
use std::process::ExitCode;

use crate::engine::{check_source, load_config};
use crate::runtime::clock::Clock;
use crate::sources::RefreshError;

pub(crate) fn config(path: &Path) -> ExitCode {
    match load_config(path) {
        Ok((config, warnings)) => {
            for w in &warnings {
                eprintln!("{}: {}: warning: {}", path.display(), w.field, w.message);
            }
            println!(
                "{}: configuration is valid ({} source{})",
                path.display(),
                config.sources.len(),
                if config.sources.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) async fn source(path: &Path, name: &str) -> ExitCode {
    let config = match load_config(path) {
        Ok((config, _)) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some(spec) = config.sources.iter().find(|s| s.name == name) else {
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "{}: no source named {name:?}; the sources are: {}",
            path.display(),
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    println!(
        "checking source {name:?} ({}, {})",
        spec.vendor.name(),
        spec.url
    );
    match check_source(spec, Clock::System).await {
        Ok(lines) => {
            for line in lines {
                println!("ok: {line}");
            }
            println!("source {name:?} works: the exporter can authenticate and read it");
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("problem: {error}");
            if let Some(advice) = spec.vendor.advice(&error).or_else(|| advice(&error)) {
                println!("what to check: {advice}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What a user can do about a failed check.
fn advice(error: &RefreshError) -> Option<&'static str> {
    Some(match error {
        RefreshError::Status { status: 401, .. } | RefreshError::TokenRejected { .. } => {
            "the vendor refused the credentials: check client_id (or username) and the secret the configuration points at, and that the API client is enabled"
        }
        RefreshError::Status { status: 403, .. } => {
            "the credentials work but may not read this: give the API client a role that can read reports"
        }
        RefreshError::Status { status: 404, .. } => {
            "nothing at that address: check url (the console's API address for your region)"
        }
        RefreshError::Status { status: 429, .. } => {
            "the vendor is rate limiting: wait a minute and try again, and consider a longer refresh_interval"
        }
        RefreshError::Status { status: 500.., .. } => {
            "the vendor's service failed: try again later; the exporter retries with backoff"
        }
        RefreshError::Transport { .. } => {
            "no connection: check url, DNS, proxies (HTTPS_PROXY) and firewalls, and for a private CA, the source's tls.ca_file"
        }
        RefreshError::RequestTimeout { .. } | RefreshError::Timeout(_) => {
            "no answer in time: check the network path to the vendor, or raise the source's timeout"
        }
        _ => return None,
    })
}

/// Why a running exporter does not count as healthy.
#[derive(Debug, thiserror::Error)]
enum HealthcheckError {
    #[error("healthcheck: {0}")]
    Client(reqwest::Error),
    #[error("healthcheck: {url}: {cause}")]
    Request { url: String, cause: String },
    #[error("healthcheck: {url}: HTTP {status}")]
    Status { url: String, status: u16 },
}

pub(crate) async fn healthcheck(url: &str) -> Result<(), super::Failure> {
    crate::sources::http::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .tls_danger_accept_invalid_certs(true)
        .build()
        .map_err(HealthcheckError::Client)?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| HealthcheckError::Request {
            url: url.to_string(),
            cause: crate::sources::http::root_cause(&e),
        })?;
    match response.status().as_u16() {
        200 | 401 => Ok(()),
        status => Err(HealthcheckError::Status {
            url: url.to_string(),
            status,
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn advice_follows_the_kind_of_failure() {
        let status = |status| RefreshError::Status {
            endpoint: "token",
            status,
            message: String::new(),
            retry_after: None,
        };
        assert!(
            advice(&status(401))
                .unwrap()
                .contains("refused the credentials")
        );
        assert!(advice(&status(503)).unwrap().contains("service failed"));
        assert_eq!(advice(&status(400)), None);
        assert!(
            advice(&RefreshError::Timeout(Duration::from_secs(1)))
                .unwrap()
                .contains("no answer in time")
        );
        // A vendor message that happens to say "HTTP 401" does not change the advice.
        let decode = RefreshError::Decode {
            endpoint: "events",
            detail: "HTTP 401 in a page".into(),
        };
        assert_eq!(advice(&decode), None);
    }
}
