//! What a metric family is: name, help and type. Each vendor declares its own families as
//! statics (`sources/<vendor>/families.rs`); a family is identified by its address, so two
//! vendors share one by naming the same static. Names are public API: changing one breaks
//! users' rules and dashboards.

/// How a family's samples are typed in the exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
    /// A `*_info` gauge of value 1 carrying descriptive labels.
    Info,
    /// Cumulative `_bucket` counters by `le`, with `_sum` and `_count`.
    Histogram,
}

/// What a vendor says in the texts its family shares with other vendors: the HELP of a
/// family vendors share, and of the exporter's own source families, is the same lead for
/// every build followed by each compiled vendor's part.
#[derive(Debug)]
pub(crate) struct HelpParts {
    /// Its products, in a few words (the command's description).
    pub(crate) products: &'static str,
    /// What `backup_alerts_active` counts for it.
    pub(crate) alerts_active: &'static str,
    /// Its streams, for `backup_source_stream_up`.
    pub(crate) streams: &'static str,
    /// Its primary stream (`Vendor::PRIMARY_STREAM`).
    pub(crate) primary_stream: &'static str,
}

/// The parts of this build's vendors, in the registry's order; the registry sets them at
/// start, before anything is encoded.
static VENDOR_PARTS: std::sync::OnceLock<Vec<&'static HelpParts>> = std::sync::OnceLock::new();

/// Records this build's vendors' parts (the first call wins: they never change).
pub(crate) fn register_vendor_help(parts: Vec<&'static HelpParts>) {
    let _ = VENDOR_PARTS.set(parts);
}

/// Each vendor's `part`, in order.
fn vendor_help(part: fn(&HelpParts) -> &'static str) -> Vec<&'static str> {
    VENDOR_PARTS
        .get()
        .map(|parts| parts.iter().map(|p| part(p)).collect())
        .unwrap_or_default()
}

/// A metric family of snapshot data.
#[derive(Debug)]
pub struct FamilyDef {
    pub name: &'static str,
    /// The HELP text, or its lead when `per_vendor` adds each vendor's part to it.
    help: &'static str,
    per_vendor: Option<fn(&HelpParts) -> &'static str>,
    pub(crate) kind: Kind,
    /// Values depend on the time of the scrape (ages), so they cannot be encoded ahead.
    pub(crate) dynamic: bool,
}

/// A family, by reference to its static definition.
pub(crate) type Family = &'static FamilyDef;

impl FamilyDef {
    pub const fn gauge(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            name,
            help,
            per_vendor: None,
            kind: Kind::Gauge,
            dynamic: false,
        }
    }

    /// A gauge whose values are ages computed at each scrape.
    pub(crate) const fn age(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            dynamic: true,
            ..FamilyDef::gauge(name, help)
        }
    }

    pub(crate) const fn counter(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            kind: Kind::Counter,
            ..FamilyDef::gauge(name, help)
        }
    }

    /// A histogram: its samples are pushed with their suffix (`_bucket`, `_sum`,
    /// `_count`, see `ExpositionBuilder::push_part`).
    pub(crate) const fn histogram(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            kind: Kind::Histogram,
            ..FamilyDef::gauge(name, help)
        }
    }

    pub(crate) const fn info(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            kind: Kind::Info,
            ..FamilyDef::gauge(name, help)
        }
    }

    /// A gauge several vendors write, whose HELP is `lead` and each vendor's `part`.
    pub(crate) const fn shared_gauge(
        name: &'static str,
        lead: &'static str,
        part: fn(&HelpParts) -> &'static str,
    ) -> FamilyDef {
        FamilyDef {
            per_vendor: Some(part),
            ..FamilyDef::gauge(name, lead)
        }
    }

    /// The HELP text.
    pub(crate) fn help(&self) -> std::borrow::Cow<'static, str> {
        match self.per_vendor {
            None => self.help.into(),
            Some(part) => std::iter::once(self.help)
                .chain(vendor_help(part))
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
        }
    }

    /// Whether `self` and `other` are the same family.
    pub(crate) fn is(&self, other: Family) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Appended to every family's HELP: values come from the background refresh.
pub(crate) const HELP_SUFFIX: &str = " Refreshed in the background every refresh_interval of its source (see backup_source_refresh_interval_seconds).";

/// Checks names against Prometheus conventions: the prefix, `_total` exactly on counters,
/// `_info` on info families. Each vendor's tests run it on its families.
#[cfg(test)]
pub(crate) fn check_names(families: &[Family]) -> Result<(), String> {
    for family in families {
        let name = family.name;
        let ok = name.starts_with("backup_")
            && match family.kind {
                Kind::Counter => name.ends_with("_total"),
                Kind::Info => name.ends_with("_info"),
                Kind::Gauge => !name.ends_with("_total") && !name.ends_with("_info"),
                Kind::Histogram => !["_total", "_info", "_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix)),
            };
        if !ok {
            return Err(format!(
                "{name} breaks the naming conventions for a {:?}",
                family.kind
            ));
        }
    }
    Ok(())
}
