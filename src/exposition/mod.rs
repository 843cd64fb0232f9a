//! Writing snapshots as Prometheus exposition text: the families vendors declare, the
//! series tables of a source (label sets escaped once, static families deflated once), the
//! gzip segments, the scrape-time producer, and the policy that decides which series a
//! source exposes.

mod family;
pub(crate) mod gzip;
mod policy;
mod scrape;
mod table;

pub use family::{Family, FamilyDef, HELP_SUFFIX, Kind, check_names};
pub use policy::{Detail, ExposeContext, Identities, IdentityHasher};
pub use scrape::{Format, accepts_gzip, produce};
pub use table::{Exposition, ExpositionBuilder, LabelId, Table, Value, escape_label_value};
