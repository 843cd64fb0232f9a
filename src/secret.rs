//! Credentials: where they come from and how they are kept out of logs.
//!
//! A [`Secret`] never prints its value (`Debug` shows `<redacted>`, there is no `Display`).
//! A [`SecretRef`] remembers where a secret lives so a rotated file or variable is picked up
//! the next time a token is requested, without a restart.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A credential value. Read it with [`Secret::expose`] only where it is sent upstream.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    pub(crate) fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a configured secret is read from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum SecretRef {
    File(PathBuf),
    Env(String),
    Inline(Secret),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::File(path) => write!(f, "File({})", path.display()),
            SecretRef::Env(name) => write!(f, "Env({name})"),
            SecretRef::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

/// Why a secret cannot be read: it names the file or variable, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SecretError(String);

impl SecretRef {
    /// Reads the current value.
    pub(crate) fn load(&self) -> Result<Secret, SecretError> {
        let fail = |message: String| Err(SecretError(message));
        match self {
            SecretRef::File(path) => {
                let text = match std::fs::read_to_string(path) {
                    Ok(text) => text,
                    Err(e) => {
                        return fail(format!("cannot read secret file {}: {e}", path.display()));
                    }
                };
                // Files written by editors and `echo` end in a newline that is not part of the secret.
                let value = text.trim_end_matches(['\n', '\r']);
                if value.is_empty() {
                    return fail(format!("secret file {} is empty", path.display()));
                }
                Ok(Secret::new(value))
            }
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                Ok(_) => fail(format!("environment variable {name} is empty")),
                Err(_) => fail(format!("environment variable {name} is not set")),
            },
            SecretRef::Inline(secret) => Ok(secret.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2-canary");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let inline = SecretRef::Inline(secret);
        assert!(!format!("{inline:?}").contains("hunter2"));
    }

    #[test]
    fn file_secret_drops_trailing_newline_and_reports_path_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(
            SecretRef::File(path.clone()).load().unwrap().expose(),
            "abc"
        );
        std::fs::write(&path, "\n").unwrap();
        let err = SecretRef::File(path.clone())
            .load()
            .unwrap_err()
            .to_string();
        assert!(err.contains("is empty"), "{err}");
        let missing = SecretRef::File(dir.path().join("nope"))
            .load()
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope"), "{missing}");
    }
}
