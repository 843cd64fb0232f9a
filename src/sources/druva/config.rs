//! A Druva source's own keys: the API credential, the reports to read, the page size, how
//! often current-state reports are read whole, which Events API to read, and
//! `resource_metrics`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::reports;
use crate::config::{
    ConfigWarning, FieldError, HumanDuration, SecretKeys, err, non_empty, parse_base_url,
};
use crate::exposition::Detail;
use crate::secret::SecretRef;

pub(crate) const DEFAULT_URL: &str = "https://apis.druva.com";
/// The legacy Events API's host, as Druva's page of it (seed 004) calls it.
pub(crate) const DEFAULT_LEGACY_EVENTS_URL: &str = "https://cloud.druva.com";
/// The reports API's maximum page size.
pub(crate) const MAX_PAGE_SIZE: u32 = 500;
pub(crate) const DEFAULT_FULL_READ_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// The keys as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DruvaConfig {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    reports: Option<Vec<String>>,
    page_size: Option<u32>,
    full_read_interval: Option<HumanDuration>,
    events: Option<EventsKind>,
    legacy_events: Option<LegacyEventsConfig>,
    resource_metrics: Option<Detail>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum EventsKind {
    V2,
    Legacy,
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyEventsConfig {
    url: Option<String>,
    admin_email: String,
    api_token: Option<String>,
    api_token_file: Option<PathBuf>,
    api_token_env: Option<String>,
}

/// A Druva inSync tenant (Microsoft 365 reports and events).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DruvaSpec {
    pub(crate) client_id: String,
    pub(crate) secret: SecretRef,
    /// Report IDs to read, in reading order.
    pub(crate) reports: Vec<&'static str>,
    pub(crate) page_size: u32,
    /// How often the current-state reports are read completely instead of incrementally,
    /// so deleted resources disappear.
    pub(crate) full_read_interval: Duration,
    pub(crate) events: DruvaEvents,
}

impl DruvaSpec {
    /// `v2`, `legacy` or `none`.
    pub(crate) fn events_kind(&self) -> &'static str {
        match self.events {
            DruvaEvents::None => "none",
            DruvaEvents::V2 => "v2",
            DruvaEvents::Legacy { .. } => "legacy",
        }
    }
}

/// Which inSync Events API feeds `backup_events_total`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DruvaEvents {
    None,
    /// `GET /insync/eventmanagement/v2/events` with the OAuth token.
    V2,
    /// The deprecated `/api/events/v1` with HTTP Basic (admin e-mail, API token).
    Legacy {
        url: Url,
        admin_email: String,
        token: SecretRef,
    },
}

impl DruvaConfig {
    pub(crate) fn validate(
        self,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(DruvaSpec, Option<Detail>), FieldError> {
        let secret = SecretKeys {
            inline: self.client_secret.clone(),
            file: self.client_secret_file.clone(),
            env: self.client_secret_env.clone(),
        }
        .resolve(at, "client_secret", warnings)?;
        let (client_id, secret) = match (&self.client_id, secret) {
            (Some(id), Some(secret)) => (non_empty(at, "client_id", id)?, secret),
            (Some(_), None) => {
                return err(
                    format!("{at}.client_id"),
                    "needs a secret: set client_secret_file, client_secret_env or client_secret",
                );
            }
            (None, _) => {
                return err(
                    format!("{at}.client_id"),
                    "is required: create an API credential in the Druva console (Settings → API credentials)",
                );
            }
        };
        let spec = DruvaSpec {
            client_id,
            secret,
            reports: self.reports(at)?,
            page_size: self.page_size(at)?,
            full_read_interval: self.full_read_interval(at)?,
            events: self.events(at, warnings)?,
        };
        Ok((spec, self.resource_metrics))
    }

    fn reports(&self, at: &str) -> Result<Vec<&'static str>, FieldError> {
        let Some(names) = &self.reports else {
            return Ok(reports::all_ids());
        };
        let mut ids = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let Some(report) = reports::find(name) else {
                return err(
                    format!("{at}.reports[{i}]"),
                    format!(
                        "unknown report {name:?}; supported: {}",
                        reports::all_ids().join(", ")
                    ),
                );
            };
            if ids.contains(&report.id) {
                return err(
                    format!("{at}.reports[{i}]"),
                    format!("{name} is listed twice"),
                );
            }
            ids.push(report.id);
        }
        Ok(ids)
    }

    fn page_size(&self, at: &str) -> Result<u32, FieldError> {
        let page_size = self.page_size.unwrap_or(MAX_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return err(
                format!("{at}.page_size"),
                format!("must be between 1 and {MAX_PAGE_SIZE} (the API's maximum)"),
            );
        }
        Ok(page_size)
    }

    fn full_read_interval(&self, at: &str) -> Result<Duration, FieldError> {
        let interval = self
            .full_read_interval
            .map_or(DEFAULT_FULL_READ_INTERVAL, |d| d.0);
        if interval.is_zero() {
            return err(
                format!("{at}.full_read_interval"),
                "must be greater than zero",
            );
        }
        Ok(interval)
    }

    fn events(
        &self,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<DruvaEvents, FieldError> {
        let legacy = match (self.events.unwrap_or(EventsKind::V2), &self.legacy_events) {
            (EventsKind::V2, None) => return Ok(DruvaEvents::V2),
            (EventsKind::None, None) => return Ok(DruvaEvents::None),
            (EventsKind::Legacy, Some(legacy)) => legacy,
            (EventsKind::Legacy, None) => {
                return err(
                    format!("{at}.legacy_events"),
                    "is required with events: legacy (admin_email and api_token_file)",
                );
            }
            (_, Some(_)) => {
                return err(
                    format!("{at}.legacy_events"),
                    "is only used with events: legacy",
                );
            }
        };
        let at = format!("{at}.legacy_events");
        let url = parse_base_url(legacy.url.as_deref().unwrap_or(DEFAULT_LEGACY_EVENTS_URL))
            .or_else(|e| err(format!("{at}.url"), e.to_string()))?;
        let token = SecretKeys {
            inline: legacy.api_token.clone(),
            file: legacy.api_token_file.clone(),
            env: legacy.api_token_env.clone(),
        }
        .resolve(&at, "api_token", warnings)?
        .ok_or_else(|| FieldError {
            field: format!("{at}.api_token_file"),
            message: "is required: the inSync API token (Settings → inSync APIs)".into(),
        })?;
        Ok(DruvaEvents::Legacy {
            url,
            admin_email: non_empty(&at, "admin_email", &legacy.admin_email)?,
            token,
        })
    }
}
