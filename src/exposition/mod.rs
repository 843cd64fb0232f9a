//! Writing snapshots as Prometheus exposition text: the families vendors declare, the
//! series tables of a source (label sets escaped once, static families deflated once), the
//! gzip segments, the scrape-time producer, and the policy that decides which series a
//! source exposes.

mod family;
pub(crate) mod gzip;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod invariants;
mod policy;
mod scrape;
mod table;

pub use family::FamilyDef;
#[cfg(test)]
pub(crate) use family::check_names;
pub(crate) use family::{Family, HELP_SUFFIX, HelpParts, Kind, register_vendor_help};
pub(crate) use policy::{Detail, ExposeContext, Identities, IdentityHasher};
pub(crate) use scrape::accepts_gzip;
pub use scrape::{Format, produce};
pub(crate) use table::{Exposition, LabelId};
pub use table::{ExpositionBuilder, Value};
