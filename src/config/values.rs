//! Value types and checks shared by the common keys and the vendors' blocks: durations,
//! sizes, secrets given as a file, a variable or inline, names, labels and base URLs. Each
//! check returns a [`FieldError`] naming the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::ConfigWarning;
use crate::secret::{Secret, SecretRef};

/// A problem with one field: its path (e.g. `sources[0].url`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

/// `Err(FieldError)` for `field`.
pub(crate) fn err<T>(
    field: impl Into<String>,
    message: impl Into<String>,
) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// A humantime duration such as `15m` or `1h30m`; a bare number is refused, because its
/// unit would be a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"60s\", \"15m\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                humantime::parse_duration(v)
                    .map(HumanDuration)
                    .map_err(|e| E::custom(format!("invalid duration {v:?}: {e}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write \"{v}s\" or \"{v}m\""
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_u64(v.unsigned_abs())
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A size in bytes: a number, or a number with a unit (`64MiB`, `500KB`, `1GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 67108864 or \"64MiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let text = v.trim();
                let split = text
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                let factor: u64 = match unit.trim() {
                    "" | "B" => 1,
                    "KB" => 1_000,
                    "MB" => 1_000_000,
                    "GB" => 1_000_000_000,
                    "KiB" => 1 << 10,
                    "MiB" => 1 << 20,
                    "GiB" => 1 << 30,
                    other => {
                        return Err(E::custom(format!(
                            "invalid size {v:?}: unknown unit {other:?} (B, KB, MB, GB, KiB, MiB, GiB)"
                        )));
                    }
                };
                number
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(factor))
                    .map(ByteSize)
                    .ok_or_else(|| E::custom(format!("invalid size {v:?}")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A required text field that must not be blank.
pub(crate) fn non_empty(at: &str, field: &str, value: &str) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        err(format!("{at}.{field}"), "must not be empty")
    } else {
        Ok(value.to_string())
    }
}

/// The `<base>`, `<base>_file` and `<base>_env` keys of one secret, as read.
#[derive(Debug, Default)]
pub(crate) struct SecretKeys {
    pub(crate) inline: Option<String>,
    pub(crate) file: Option<PathBuf>,
    pub(crate) env: Option<String>,
}

impl SecretKeys {
    /// Resolves the keys to one [`SecretRef`] and checks that it can be read now, so a typo
    /// shows up in `--config.check` and not at 3 a.m. An inline secret is legal but warned
    /// about.
    pub(crate) fn resolve(
        &self,
        at: &str,
        base: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Option<SecretRef>, FieldError> {
        let set = [
            self.inline.is_some(),
            self.file.is_some(),
            self.env.is_some(),
        ];
        if set.iter().filter(|s| **s).count() > 1 {
            return err(
                format!("{at}.{base}"),
                format!("set only one of {base}_file, {base}_env and {base}"),
            );
        }
        let (field, secret) = if let Some(path) = &self.file {
            (format!("{at}.{base}_file"), SecretRef::File(path.clone()))
        } else if let Some(name) = &self.env {
            (format!("{at}.{base}_env"), SecretRef::Env(name.clone()))
        } else if let Some(value) = &self.inline {
            warnings.push(ConfigWarning {
                field: format!("{at}.{base}"),
                message: format!(
                    "secret given inline in the config file; prefer {base}_file or {base}_env"
                ),
            });
            (
                format!("{at}.{base}"),
                SecretRef::Inline(Secret::new(value.as_str())),
            )
        } else {
            return Ok(None);
        };
        secret.load().map_err(|e| FieldError {
            field,
            message: e.to_string(),
        })?;
        Ok(Some(secret))
    }
}

/// Why a source's `name` cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceNameError {
    #[error("must not be empty")]
    Empty,
    #[error("{0:?} may contain only letters, digits, '-', '_' and '.' (at most 64)")]
    Invalid(String),
}

pub(crate) fn validate_source_name(name: &str) -> Result<(), SourceNameError> {
    if name.is_empty() {
        return Err(SourceNameError::Empty);
    }
    if name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(SourceNameError::Invalid(name.to_string()));
    }
    Ok(())
}

/// A source's own labels, sorted by name: valid names that no series of the exporter sets.
pub(crate) fn validate_labels(
    labels: &BTreeMap<String, String>,
    reserved: &[&str],
) -> Result<Vec<(String, String)>, (String, String)> {
    let mut out = Vec::with_capacity(labels.len());
    for (name, value) in labels {
        let valid = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !valid {
            return Err((name.clone(), "is not a valid Prometheus label name".into()));
        }
        if name.starts_with("__") {
            return Err((
                name.clone(),
                "label names starting with __ are reserved by Prometheus".into(),
            ));
        }
        if reserved.contains(&name.as_str()) {
            return Err((
                name.clone(),
                "collides with a label the exporter sets itself".into(),
            ));
        }
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

/// Why a vendor's base URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BaseUrlError {
    #[error("{text:?} is not a valid URL: {detail}")]
    Invalid { text: String, detail: String },
    #[error("{0:?} must use http or https")]
    Scheme(String),
    #[error("{0:?} must not contain a query or fragment")]
    QueryOrFragment(String),
    #[error("credentials in the URL are not allowed; use the credential fields")]
    Credentials,
}

/// A vendor's base URL: http or https, no credentials, query or fragment.
pub(crate) fn parse_base_url(text: &str) -> Result<Url, BaseUrlError> {
    let url = Url::parse(text).map_err(|e| BaseUrlError::Invalid {
        text: text.to_string(),
        detail: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BaseUrlError::Scheme(text.to_string()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BaseUrlError::QueryOrFragment(text.to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BaseUrlError::Credentials);
    }
    Ok(url)
}
