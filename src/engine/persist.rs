//! `--storage.path`: each source's last good state and its counters, on disk, so a
//! restarted exporter serves its data at once and its counters and event cursor continue
//! where they were.
//!
//! Two files per source, each written atomically (temporary file, fsync, rename, fsync of
//! the directory): `<source>.state.json` after every successful refresh (the state with the
//! counters of that moment, so cursor and counters change together) and
//! `<source>.status.json` after a failed one (counters only: the state did not change).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::SourceSpec;
use crate::sources::SkipCounts;
use crate::sources::http::RequestCounts;

/// Version of the file format; files of another version are ignored.
const FORMAT: u32 = 1;

/// A source's counters and refresh outcome, as `/metrics` shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedStatus {
    pub(crate) up: bool,
    pub(crate) last_success_ms: Option<i64>,
    pub(crate) failures_total: u64,
    pub(crate) rows_skipped: SkipCounts,
    pub(crate) requests: RequestCounts,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct File1<S> {
    format: u32,
    exporter: String,
    source: String,
    /// What the data is of: a file from another tenant or report set is not used.
    origin: String,
    saved_at_ms: i64,
    status: SavedStatus,
    pub(crate) state: Option<S>,
}

/// Decodes a saved file: all of it or nothing (the error names the line and column).
pub(crate) fn decode<T: DeserializeOwned>(
    reader: impl std::io::Read,
) -> serde_json::Result<File1<T>> {
    serde_json::from_reader(reader)
}

/// What was restored for a source.
pub(crate) struct Restored<S> {
    pub(crate) status: SavedStatus,
    pub(crate) state: Option<S>,
}

/// The storage directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("--storage.path {}: {error}", dir.display())]
    Create { dir: PathBuf, error: std::io::Error },
    #[error("--storage.path {} is not writable: {error}", dir.display())]
    NotWritable { dir: PathBuf, error: std::io::Error },
}

/// The storage directory.
pub struct Store {
    dir: PathBuf,
}

/// What a source's data is of, in words: vendor, URL and the settings that choose the rows.
fn origin(spec: &SourceSpec) -> String {
    spec.vendor.origin(&spec.url)
}

impl Store {
    /// Opens (creating it if needed) the storage directory and checks it is writable.
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::Create {
            dir: dir.to_path_buf(),
            error,
        })?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|error| StoreError::NotWritable {
                dir: dir.to_path_buf(),
                error,
            })?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, source: &str, kind: &str) -> PathBuf {
        self.dir.join(format!("{source}.{kind}.json"))
    }

    /// Writes the state and counters after a successful refresh.
    pub(crate) fn save_state<S: Serialize>(
        &self,
        spec: &SourceSpec,
        status: &SavedStatus,
        state: &S,
        now_ms: i64,
    ) -> std::io::Result<()> {
        crate::runtime::background::debug_assert_low_priority("writing the state");
        self.write(
            &self.path(&spec.name, "state"),
            &File1 {
                format: FORMAT,
                exporter: env!("CARGO_PKG_VERSION").into(),
                source: spec.name.clone(),
                origin: origin(spec),
                saved_at_ms: now_ms,
                status: status.clone(),
                state: Some(state),
            },
        )?;
        // The state file now carries the newest counters.
        match std::fs::remove_file(self.path(&spec.name, "status")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Writes the counters after a failed refresh.
    pub(crate) fn save_status(
        &self,
        spec: &SourceSpec,
        status: &SavedStatus,
        now_ms: i64,
    ) -> std::io::Result<()> {
        self.write(
            &self.path(&spec.name, "status"),
            &File1::<()> {
                format: FORMAT,
                exporter: env!("CARGO_PKG_VERSION").into(),
                source: spec.name.clone(),
                origin: origin(spec),
                saved_at_ms: now_ms,
                status: status.clone(),
                state: None,
            },
        )
    }

    fn write<T: Serialize>(&self, path: &Path, value: &T) -> std::io::Result<()> {
        let temporary = path.with_extension("json.tmp");
        {
            let file = File::create(&temporary)?;
            let mut writer = BufWriter::new(&file);
            serde_json::to_writer(&mut writer, value)?;
            writer.flush()?;
            drop(writer);
            file.sync_all()?;
        }
        std::fs::rename(&temporary, path)?;
        File::open(&self.dir)?.sync_all()
    }

    /// Reads what was saved for `spec`. A missing file is normal; an unreadable, corrupt or
    /// foreign one is logged and ignored.
    pub(crate) fn load<S: DeserializeOwned>(&self, spec: &SourceSpec) -> Option<Restored<S>> {
        crate::runtime::background::debug_assert_low_priority("reading the state");
        let state: Option<File1<S>> = self.read(spec, "state");
        let status: Option<File1<serde::de::IgnoredAny>> = self.read(spec, "status");
        match (state, status) {
            (None, None) => None,
            (Some(state), status) => Some(Restored {
                status: match status {
                    Some(s) if s.saved_at_ms >= state.saved_at_ms => s.status,
                    _ => state.status,
                },
                state: state.state,
            }),
            (None, Some(status)) => Some(Restored {
                status: status.status,
                state: None,
            }),
        }
    }

    fn read<T: DeserializeOwned>(&self, spec: &SourceSpec, kind: &str) -> Option<File1<T>> {
        let path = self.path(&spec.name, kind);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                warn!(source = %spec.name, path = %path.display(), error = %e, "cannot read saved state; starting without it");
                return None;
            }
        };
        let saved: File1<T> = match decode(BufReader::new(file)) {
            Ok(saved) => saved,
            Err(e) => {
                warn!(source = %spec.name, path = %path.display(), error = %e, "saved state is corrupt or of another version; ignoring it");
                return None;
            }
        };
        if saved.format != FORMAT || saved.source != spec.name || saved.origin != origin(spec) {
            warn!(
                source = %spec.name,
                path = %path.display(),
                "saved state belongs to another source or configuration; ignoring it"
            );
            return None;
        }
        Some(saved)
    }
}

/// The fuzz target of a vendor's state file: what `--storage.path` holds, read at start,
/// and a state read from it exposed and encoded as a scrape would.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_state<V: crate::sources::Vendor>(data: &[u8]) {
    crate::sources::fuzzing::enter();
    if let Ok(saved) = decode::<V::State>(data)
        && let Some(state) = saved.state
    {
        crate::sources::fuzzing::expose(&state, V::FAMILIES, crate::sources::fuzzing::NOW_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> SourceSpec {
        super::super::test_source("s1", url, "")
    }

    #[test]
    fn state_and_status_round_trip_and_the_newer_counters_win() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let spec = spec("https://a.example");
        let mut status = SavedStatus {
            up: true,
            last_success_ms: Some(5),
            failures_total: 1,
            ..Default::default()
        };
        store
            .save_state(&spec, &status, &vec![1, 2, 3], 10)
            .unwrap();
        let restored: Restored<Vec<i32>> = store.load(&spec).unwrap();
        assert_eq!(restored.state, Some(vec![1, 2, 3]));
        assert_eq!(restored.status, status);
        status.up = false;
        status.failures_total = 2;
        store.save_status(&spec, &status, 20).unwrap();
        let restored: Restored<Vec<i32>> = store.load(&spec).unwrap();
        assert_eq!(restored.state, Some(vec![1, 2, 3]));
        assert_eq!(restored.status.failures_total, 2);
        assert!(!restored.status.up);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn corrupt_and_foreign_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let spec_a = spec("https://a.example");
        store
            .save_state(&spec_a, &SavedStatus::default(), &vec![1], 1)
            .unwrap();
        // Another tenant under the same name: not used.
        assert!(store.load::<Vec<i32>>(&spec("https://b.example")).is_none());
        // A different type of state: not used.
        assert!(store.load::<String>(&spec_a).is_none());
        std::fs::write(dir.path().join("s1.state.json"), b"{\"format\":1,\"trunc").unwrap();
        assert!(store.load::<Vec<i32>>(&spec_a).is_none());
        std::fs::write(dir.path().join("s1.state.json"), b"\xff\xfe garbage").unwrap();
        assert!(store.load::<Vec<i32>>(&spec_a).is_none());
    }
}
