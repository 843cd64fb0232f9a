//! Families more than one vendor writes: a family is written once per scrape, with every
//! source's series under it, so vendors share one by naming the same static.

use crate::exposition::FamilyDef;

pub(crate) static ALERTS_ACTIVE: FamilyDef = FamilyDef::shared_gauge(
    "backup_alerts_active",
    "Active vendor alerts by severity.",
    |vendor| vendor.alerts_active,
);
