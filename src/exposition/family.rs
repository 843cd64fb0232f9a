//! What a metric family is: name, help and type. Each vendor declares its own families as
//! statics (`sources/<vendor>/families.rs`); a family is identified by its address, so two
//! vendors share one by naming the same static. Names are public API: changing one breaks
//! users' rules and dashboards.

/// How a family's samples are typed in the exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    /// A `*_info` gauge of value 1 carrying descriptive labels.
    Info,
}

/// A metric family of snapshot data.
#[derive(Debug)]
pub struct FamilyDef {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// Values depend on the time of the scrape (ages), so they cannot be encoded ahead.
    pub dynamic: bool,
}

/// A family, by reference to its static definition.
pub(crate) type Family = &'static FamilyDef;

impl FamilyDef {
    pub const fn gauge(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            name,
            help,
            kind: Kind::Gauge,
            dynamic: false,
        }
    }

    /// A gauge whose values are ages computed at each scrape.
    pub const fn age(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            dynamic: true,
            ..FamilyDef::gauge(name, help)
        }
    }

    pub const fn counter(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            kind: Kind::Counter,
            ..FamilyDef::gauge(name, help)
        }
    }

    pub const fn info(name: &'static str, help: &'static str) -> FamilyDef {
        FamilyDef {
            kind: Kind::Info,
            ..FamilyDef::gauge(name, help)
        }
    }

    /// Whether `self` and `other` are the same family.
    pub fn is(&self, other: Family) -> bool {
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
