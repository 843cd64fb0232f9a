//! The vendors, and what they share.
//!
//! A vendor implements [`Vendor`]: its configuration block, its client, and one refresh
//! that, given the previous state, reads the vendor's API and returns a complete new state,
//! or a [`RefreshError`] and nothing else. The engine swaps the new state in only when the
//! whole refresh succeeded, so partial reads never leak. The shared plumbing: HTTP with
//! request counting and a size limit ([`http`]), bearer tokens ([`token`]), tolerant row
//! decoding ([`record`]), the vendors' date formats ([`dates`]) and skip counts ([`skip`]).

#[cfg(test)]
mod arbitrary_json;
pub(crate) mod budget;
pub(crate) mod dates;
mod error;
pub(crate) mod families;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod fuzzing;
pub(crate) mod http;
pub(crate) mod limiter;
pub(crate) mod record;
mod skip;
pub(crate) mod token;
// Each vendor's module, a folder of its own, compiled with the feature of its name
// (declared by build.rs).
include!(concat!(env!("OUT_DIR"), "/vendor_sources.rs"));

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::RefreshError;
pub(crate) use skip::SkipCounts;
pub(crate) use skip::SkipReason;

use crate::config::{ConfigWarning, FieldError, HttpSpec};
pub(crate) use crate::exposition::HelpParts;
use crate::exposition::{Detail, ExposeContext, ExpositionBuilder, Family};
use crate::health::HealthSummary;
use crate::runtime::clock::Clock;
use http::RequestStats;

/// A vendor's state after a successful refresh.
pub(crate) trait VendorState: Send + Sync + 'static {
    /// Adds this state's series to the source's exposition: aggregates first, then each
    /// device's or resource's series if `ctx` keeps it and `out` admits it.
    fn expose(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext);

    /// Every device or resource by health, and the stalest, named as in the labels
    /// (hashed when `ctx` hashes identities).
    fn summarize(&self, ctx: &ExposeContext) -> HealthSummary;
}

/// The last good state, lent to the next refresh. The refresh reads it while it talks to
/// the vendor, and takes it only when nothing can fail or wait any more, to update it in
/// place rather than a copy (a Druva tenant of 50,000 users holds about 100 MiB). Until
/// then the engine still has it, so a failed or cancelled refresh (the source's `timeout`)
/// loses nothing; a change made on the refresh threads ([`Previous::change`]) holds it
/// until the change is complete, and leaves it here if the refresh is cancelled meanwhile.
pub(crate) struct Previous<S>(Arc<std::sync::Mutex<Option<Arc<S>>>>);

impl<S: Send + Sync + 'static> Previous<S> {
    pub(crate) fn new(state: Option<Arc<S>>) -> Self {
        Previous(Arc::new(std::sync::Mutex::new(state)))
    }

    /// The state to read from (such as report cursors); drop it before [`Previous::take`].
    pub(crate) fn get(&self) -> Option<Arc<S>> {
        lock(&self.0).clone()
    }

    /// What is left after the refresh: the state unless the refresh took it, once a change
    /// still running on the refresh threads is complete.
    pub(crate) async fn into_inner(self) -> Option<Arc<S>> {
        let slot = self.0;
        crate::runtime::background::run(move || lock(&slot).take()).await
    }
}

fn lock<S>(slot: &std::sync::Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: Clone + Default + Send + Sync + 'static> Previous<S> {
    /// Takes the state to build the next one from: itself when nothing else holds it (the
    /// engine's snapshot and state file never keep it), else a copy.
    pub(crate) fn take(&self) -> Option<S> {
        lock(&self.0).take().map(Arc::unwrap_or_clone)
    }

    /// Applies `change` to the state (a new one if there is none) on a refresh thread, as
    /// one job that cannot be cancelled halfway: it holds the state until the change is
    /// complete and then leaves it here, for [`Previous::take`] or, if the refresh was
    /// cancelled meanwhile, for the engine.
    pub(crate) async fn change<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut S) -> T + Send + 'static,
    ) -> T {
        let slot = self.0.clone();
        crate::runtime::background::run(move || {
            let mut held = lock(&slot);
            let mut state = held.take().map(Arc::unwrap_or_clone).unwrap_or_default();
            let result = change(&mut state);
            *held = Some(Arc::new(state));
            result
        })
        .await
    }
}

/// The outcome of a refresh that changed the state.
#[derive(Debug)]
pub(crate) struct Refreshed<S> {
    pub(crate) state: S,
    /// Rows skipped as malformed while reading, and values dropped from kept rows.
    pub(crate) skipped: SkipCounts,
    /// How each stream read fared, the vendor's primary stream first (its reports: what
    /// every device and resource comes from). Streams fail alone: a failed secondary
    /// stream (Druva's events) keeps its previous state in `state`, and a failed primary
    /// stream with a secondary that succeeded keeps the previous reports and carries the
    /// new events; the engine then counts the refresh as failed (`backup_source_up` 0, the
    /// data age growing) while serving the events.
    pub(crate) streams: Vec<Stream>,
}

/// One stream of a refresh and how it fared.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) name: &'static str,
    pub(crate) error: Option<RefreshError>,
}

impl<S> Refreshed<S> {
    /// A refresh of one stream that succeeded.
    pub(crate) fn complete(state: S, skipped: SkipCounts, stream: &'static str) -> Refreshed<S> {
        Refreshed {
            state,
            skipped,
            streams: vec![Stream {
                name: stream,
                error: None,
            }],
        }
    }
}

/// What a vendor's client is built with, besides its own settings.
pub(crate) struct ClientContext<'a> {
    pub(crate) url: &'a Url,
    pub(crate) http: &'a HttpSpec,
    pub(crate) requests: Arc<RequestStats>,
    /// Every request of the source takes a slot of it (`max_in_flight`).
    pub(crate) limiter: Arc<limiter::Limiter>,
    pub(crate) clock: Clock,
}

/// A vendor: its configuration block, and a client for one configured tenant.
pub(crate) trait Vendor: Sized + Send + Sync + 'static {
    /// The value of `vendor:` in the configuration.
    const NAME: &'static str;
    /// The API's address when a source leaves out `url`; `None` makes `url` required.
    const DEFAULT_URL: Option<&'static str>;
    /// Its metric families, in the order they are written.
    const FAMILIES: &'static [Family];
    /// Label names its series set (a source's own labels may not reuse them).
    const LABELS: &'static [&'static str];
    /// The name of its primary stream (`backup_source_stream_up{stream}`): the reads every
    /// device and resource comes from.
    const PRIMARY_STREAM: &'static str;
    /// Its parts of the HELP texts vendors share, and its products in a few words.
    const HELP: HelpParts;
    /// The vendor's keys of a minimal source entry, one per line indented by four spaces:
    /// tests of the vendor-neutral code build their sources with the first vendor's.
    #[cfg(test)]
    const TEST_KEYS: &'static str;
    /// Its fuzz targets: every input it reads from outside (`fuzz/`, `src/fuzzing.rs`).
    #[cfg(any(test, feature = "fuzzing"))]
    const FUZZ_TARGETS: &'static [fuzzing::FuzzTarget];
    /// Whether `refresh` reads the previous state. If not, the engine keeps a state only
    /// until its series are encoded (and saved with `--storage.path`), so the memory of a
    /// large estate is the snapshot's alone.
    const READS_PREVIOUS: bool;

    /// The vendor's keys of a source entry, as read (`#[serde(deny_unknown_fields)]`).
    type Config: DeserializeOwned;
    /// Those keys, checked.
    type Spec: Clone + PartialEq + Debug + Send + Sync + 'static;
    /// What one refresh learns; serializable so `--storage.path` can keep it.
    type State: VendorState + Serialize + DeserializeOwned;

    /// Checks the keys; `at` is the entry's path (`sources[2]`) for error messages. Returns
    /// the settings and the detail of series the block asks for, if it names one.
    fn validate(
        config: Self::Config,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(Self::Spec, Option<Detail>), FieldError>;

    /// What a state read with `spec` from `url` is of, in words: state saved for another
    /// tenant or another selection of rows is not restored.
    fn origin(spec: &Self::Spec, url: &Url) -> String;

    /// The client of one tenant.
    fn new(spec: &Self::Spec, context: ClientContext<'_>) -> Result<Self, RefreshError>;

    /// Reads the vendor's API and builds the next state from `previous` (empty on the
    /// first refresh). Must not keep partial results anywhere if it fails or is cancelled,
    /// and takes `previous` only once nothing can fail (see [`Previous`]).
    fn refresh(
        &self,
        previous: &Previous<Self::State>,
    ) -> impl Future<Output = Result<Refreshed<Self::State>, RefreshError>> + Send;

    /// For `check-source`: authenticates and reads the first page of each report this
    /// source reads, and says what it found, a sentence per line.
    fn check(&self) -> impl Future<Output = Result<Vec<String>, RefreshError>> + Send;

    /// What a user can do about `error` in the vendor's terms (its roles, its settings),
    /// where the general advice of `check-source` would not say.
    fn advice(error: &RefreshError) -> Option<&'static str> {
        let _ = error;
        None
    }

    /// The vendor's own words in an error response body (its error envelope), if the body
    /// is one.
    fn error_message(body: &[u8]) -> Option<String>;

    /// Whether an error response body asks to be retried.
    fn error_retryable(body: &[u8]) -> bool {
        let _ = body;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lent_state_is_taken_in_place_or_comes_back_untouched() {
        let state = Arc::new(vec![1u64, 2, 3]);
        let address = state.as_ptr();
        let previous = Previous::new(Some(state));
        assert_eq!(previous.get().as_deref(), Some(&vec![1, 2, 3]));
        let taken = previous.take().expect("lent");
        assert_eq!(taken.as_ptr(), address, "not copied: nothing else held it");
        assert!(
            previous.into_inner().await.is_none(),
            "taken, so not given back"
        );

        // A refresh that fails before taking it leaves it with the engine.
        let previous = Previous::new(Some(Arc::new(vec![4u64])));
        let _read_only = previous.get();
        assert_eq!(previous.into_inner().await.as_deref(), Some(&vec![4]));

        // Still held elsewhere: the refresh works on a copy and the other holder keeps its.
        let state = Arc::new(vec![5u64]);
        let previous = Previous::new(Some(state.clone()));
        let taken = previous.take().expect("lent");
        assert_ne!(taken.as_ptr(), state.as_ptr());
        assert_eq!(taken, *state);
    }

    #[tokio::test]
    async fn a_change_cancelled_halfway_still_completes_and_is_kept() {
        let previous = Previous::new(Some(Arc::new(vec![1u64])));
        let (started, on_pool) = std::sync::mpsc::channel();
        let change = previous.change(move |state: &mut Vec<u64>| {
            started.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            state.push(2);
        });
        // The refresh's timeout drops the change once it has begun.
        let cancelled = tokio::time::timeout(std::time::Duration::from_millis(20), async {
            change.await;
        })
        .await;
        assert!(cancelled.is_err());
        on_pool.recv().unwrap();
        assert_eq!(previous.into_inner().await.as_deref(), Some(&vec![1, 2]));

        // Completed: the refresh takes the changed state.
        let previous = Previous::new(None);
        let len = previous.change(|state: &mut Vec<u64>| {
            state.push(7);
            state.len()
        });
        assert_eq!(len.await, 1);
        assert_eq!(previous.take(), Some(vec![7]));
    }
}
