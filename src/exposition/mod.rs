//! Writing snapshots as Prometheus exposition text.

mod family;
pub mod gzip;
mod table;

pub use family::{Family, HELP_SUFFIX, Kind};
pub use table::{Exposition, ExpositionBuilder, LabelId, Table, Value, escape_label_value};
