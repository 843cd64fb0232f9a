//! A Code42 source's own keys: credentials (an API client, or a user for the legacy
//! token), the report's path and query, the page size, and `device_metrics`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

use crate::config::{ConfigWarning, FieldError, SecretKeys, err, non_empty};
use crate::exposition::Detail;
use crate::secret::SecretRef;

pub(crate) const DEFAULT_REPORT_PATH: &str = "/api/v1/DeviceBackupReport";
/// The documented maximum page size of DeviceBackupReport.
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;

/// The keys as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Code42Config {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    report_path: Option<String>,
    query: Option<BTreeMap<String, QueryValue>>,
    page_size: Option<u32>,
    device_metrics: Option<Detail>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Code42Spec {
    pub(crate) auth: Code42Auth,
    /// Path of the DeviceBackupReport resource.
    pub(crate) report_path: String,
    /// Extra query parameters, in the order given.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) page_size: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Code42Auth {
    /// API client: OAuth client credentials.
    ApiClient {
        client_id: String,
        secret: SecretRef,
    },
    /// Legacy user token from `/api/v3/auth/jwt`.
    User {
        username: String,
        password: SecretRef,
    },
}

/// A query parameter value; YAML users write `active: true` as often as `active: "true"`.
struct QueryValue(String);

impl<'de> Deserialize<'de> for QueryValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = QueryValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<QueryValue, E> {
                Ok(QueryValue(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Code42Config {
    pub(crate) fn validate(
        self,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(Code42Spec, Option<Detail>), FieldError> {
        let spec = Code42Spec {
            auth: self.auth(at, warnings)?,
            report_path: self.report_path(at)?,
            query: self.query(at)?,
            page_size: self.page_size(at)?,
        };
        Ok((spec, self.device_metrics))
    }

    fn auth(&self, at: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Code42Auth, FieldError> {
        let client = SecretKeys {
            inline: self.client_secret.clone(),
            file: self.client_secret_file.clone(),
            env: self.client_secret_env.clone(),
        }
        .resolve(at, "client_secret", warnings)?;
        let password = SecretKeys {
            inline: self.password.clone(),
            file: self.password_file.clone(),
            env: self.password_env.clone(),
        }
        .resolve(at, "password", warnings)?;
        match (&self.client_id, client, &self.username, password) {
            (Some(id), Some(secret), None, None) => Ok(Code42Auth::ApiClient {
                client_id: non_empty(at, "client_id", id)?,
                secret,
            }),
            (None, None, Some(user), Some(password)) => Ok(Code42Auth::User {
                username: non_empty(at, "username", user)?,
                password,
            }),
            (Some(_), None, None, None) => err(
                format!("{at}.client_id"),
                "needs a secret: set client_secret_file, client_secret_env or client_secret",
            ),
            (None, None, Some(_), None) => err(
                format!("{at}.username"),
                "needs a password: set password_file, password_env or password",
            ),
            (None, Some(_), None, None) => err(
                format!("{at}.client_id"),
                "is required with a client secret",
            ),
            (None, None, None, Some(_)) => {
                err(format!("{at}.username"), "is required with a password")
            }
            (None, None, None, None) => err(
                at,
                "no credentials: set client_id with client_secret_file (API client), \
                 or username with password_file (legacy user token)",
            ),
            _ => err(
                at,
                "set either client_id with a client secret (API client) or username with \
                 a password (legacy user token), not both",
            ),
        }
    }

    fn report_path(&self, at: &str) -> Result<String, FieldError> {
        let path = self
            .report_path
            .clone()
            .unwrap_or_else(|| DEFAULT_REPORT_PATH.to_string());
        if !path.starts_with('/') || path.contains(['?', '#']) {
            return err(
                format!("{at}.report_path"),
                format!(
                    "{path:?} must be an absolute path without query, e.g. {DEFAULT_REPORT_PATH}"
                ),
            );
        }
        Ok(path)
    }

    fn query(&self, at: &str) -> Result<Vec<(String, String)>, FieldError> {
        let mut query = Vec::new();
        for (key, QueryValue(value)) in self.query.iter().flatten() {
            let field = format!("{at}.query.{key}");
            match key.as_str() {
                "pgNum" | "pgSize" => {
                    return err(
                        field,
                        "is set by the exporter while paging; use page_size to change the page size",
                    );
                }
                "srtKey" | "srtDir" => {
                    return err(
                        field,
                        "sorting limits DeviceBackupReport to its first page, so the report would be incomplete",
                    );
                }
                "export" => {
                    return err(
                        field,
                        "the exporter reads JSON; CSV export is not supported",
                    );
                }
                "" => return err(field, "empty parameter name"),
                _ => query.push((key.clone(), value.clone())),
            }
        }
        Ok(query)
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
}
