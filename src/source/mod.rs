//! The interface between the refresh engine and a vendor module.
//!
//! A vendor implements [`Source`]: given its previous state, one refresh reads the vendor's
//! API and returns a complete new state, or an error and nothing else. The engine swaps
//! the new state in only when the whole refresh succeeded, so partial reads never leak.

mod skip;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use skip::{SkipCounts, SkipReason};

use crate::cardinality::ExposeContext;
use crate::exposition::ExpositionBuilder;
use crate::status::StatusSummary;
use crate::upstream::UpstreamError;

/// A vendor's state after a successful refresh.
pub trait VendorState: Send + Sync + 'static {
    /// Adds this state's series to the source's exposition: aggregates first, then each
    /// device's or resource's series if `ctx` keeps it and `out` admits it.
    fn expose(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext);

    /// The status page's summary: every device or resource by health, and the stalest,
    /// named as in the labels (hashed when `ctx` hashes identities).
    fn summarize(&self, ctx: &ExposeContext) -> StatusSummary;
}

/// The outcome of a successful refresh.
#[derive(Debug)]
pub struct Refreshed<S> {
    pub state: S,
    /// Rows skipped as malformed while reading.
    pub skipped: SkipCounts,
}

/// One configured upstream tenant of some vendor.
pub trait Source: Send + Sync + 'static {
    /// Serializable so `--storage.path` can keep it across restarts.
    type State: VendorState + serde::Serialize + serde::de::DeserializeOwned;

    /// Whether `refresh` reads the previous state. If not, the engine keeps a state only
    /// until its series are encoded (and saved with `--storage.path`), so the memory of a
    /// large estate is the snapshot's alone.
    const READS_PREVIOUS: bool;

    /// Reads the vendor's API and builds the next state from `previous` (absent on the
    /// first refresh). Must not keep partial results anywhere if it fails or is cancelled.
    fn refresh(
        &self,
        previous: Option<Arc<Self::State>>,
    ) -> impl Future<Output = Result<Refreshed<Self::State>, RefreshError>> + Send;

    /// For `check-source`: authenticates and reads the first page of each report this
    /// source reads, and says what it found, a sentence per line.
    fn check(&self) -> impl Future<Output = Result<Vec<String>, RefreshError>> + Send;
}

/// Why a refresh failed, in words fit for a log line (never containing a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshError {
    pub message: String,
    /// The vendor asked us to wait this long (HTTP 429 `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl RefreshError {
    pub fn new(message: impl Into<String>) -> Self {
        RefreshError {
            message: message.into(),
            retry_after: None,
        }
    }
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RefreshError {}

impl From<UpstreamError> for RefreshError {
    fn from(error: UpstreamError) -> Self {
        RefreshError::new(error.to_string())
    }
}
