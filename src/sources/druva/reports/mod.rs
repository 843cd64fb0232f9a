//! The Microsoft 365 reports: the catalogue of what is read ([`catalogue`]), what a row
//! decodes to ([`rows`]) and how ([`decode`]).

mod catalogue;
mod decode;
mod rows;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use catalogue::REPORTS;
pub(crate) use catalogue::{Kind, Operation, Report, all_ids, find};
pub(crate) use rows::{
    Alert, Allocation, Job, JobStatus, LastBackup, Outcome, Parsed, PeriodCounts, PreservedUser,
    Protection, ProvisionedUser, Resource, WorkloadStorage,
};
