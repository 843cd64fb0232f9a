//! Writing snapshots as Prometheus exposition text.

mod family;
pub mod gzip;
mod scrape;
mod table;

pub use family::{Family, HELP_SUFFIX, Kind};
pub use scrape::{Format, accepts_gzip, produce};
pub use table::{Exposition, ExpositionBuilder, LabelId, Table, Value, escape_label_value};
