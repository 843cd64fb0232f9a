//! Families more than one vendor writes: a family is written once per scrape, with every
//! source's series under it, so vendors share one by naming the same static.

use crate::exposition::FamilyDef;

pub(crate) static ALERTS_ACTIVE: FamilyDef = FamilyDef::gauge(
    "backup_alerts_active",
    "Active vendor alerts by severity. Code42: distinct devices with a warning-level or critical-level alert state. Druva: m365Alerts rows that are active and not deleted.",
);
