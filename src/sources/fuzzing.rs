//! What the vendors' fuzz targets share: how a target is named, and what is done with a
//! state a target decoded (it is exposed and encoded as a refresh would, and the snapshot's
//! invariants are checked). The targets themselves are each vendor's `fuzzing.rs`.

use super::VendorState;
use crate::exposition::{ExposeContext, ExpositionBuilder, Family, invariants};

/// A fuzz target: bytes from outside, fed to the function production feeds them to.
pub struct FuzzTarget {
    /// Its name under `fuzz/fuzz_targets/` and `fuzz/corpus/`.
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// When a fuzzed state is exposed: ages are computed against it.
pub(crate) const NOW_MS: i64 = 1_765_000_000_000;

/// Marks the calling thread as a refresh thread: the decoders check that they run on one,
/// and a fuzzing process does nothing else.
pub(crate) fn enter() {
    crate::runtime::background::lower_priority();
}

/// Exposes `state` (everything, as of `now_ms`), encodes it as every scrape can ask for it
/// and checks the snapshot's invariants, and summarizes its health for the status page.
pub(crate) fn expose(state: &dyn VendorState, families: &[Family], now_ms: i64) {
    let ctx = ExposeContext::all(now_ms);
    let mut builder = ExpositionBuilder::new("fuzz", &[]);
    state.expose(&mut builder, &ctx);
    invariants::check(&builder.finish(), families, now_ms);
    state.summarize(&ctx);
}
