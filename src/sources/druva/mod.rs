//! Druva inSync: Microsoft 365 reports and the inSync Events API.
//!
//! Current-state reports (resources, alerts) are read completely on the first refresh and
//! every `full_read_interval`, and incrementally in between (`lastUpdatedTime GTE` the last
//! `lastSyncTimestamp`, minus an overlap), merged by each row's key. Totals reports are read
//! whole every time and never filtered by date. Activity reports count each job once.

mod api;
mod config;
mod errors;
mod events;
pub(crate) mod families;
#[cfg(test)]
mod fidelity;
#[cfg(any(test, feature = "fuzzing"))]
mod fuzzing;
#[cfg(test)]
mod proptests;
pub(crate) mod reports;
pub(crate) mod state;

use reqwest::Url;

pub(crate) use config::DruvaEvents;
pub(crate) use config::{DruvaConfig, DruvaSpec};
pub(crate) use state::DruvaState;

use crate::config::{ConfigWarning, FieldError};
use crate::exposition::{Detail, Family};
use crate::runtime::clock::Clock;
use crate::sources::budget::ReadBudget;
use crate::sources::http::{ErrorReading, Upstream};
use crate::sources::{
    ClientContext, HelpParts, Previous, RefreshError, Refreshed, SkipCounts, Stream, Vendor,
};
use api::{DruvaApi, FAR_PAST_MS};
use reports::Kind;
use state::{Cursor, EventLog};

/// The name of the events stream (`backup_source_stream_up{stream="events"}`).
const EVENTS_STREAM: &str = "events";

/// Incremental reads start this much before the last sync, so rows committed just around
/// it are not missed; the overlap is harmless because rows merge by key and jobs are
/// counted once.
const OVERLAP_MS: i64 = 5 * 60 * 1000;

struct LegacyEvents {
    upstream: Upstream,
    admin_email: String,
    token: crate::secret::SecretRef,
}

/// One report read by a refresh, not yet applied.
struct Read {
    /// Its place in the source's `reports`: reads are applied in that order.
    index: usize,
    report: &'static reports::Report,
    /// Its cursor before this read.
    cursor: Option<Cursor>,
    /// A full read (replaces the report's rows) rather than an incremental one.
    full: bool,
    read: api::ReportRead,
}

/// A Druva tenant.
pub(crate) struct Druva {
    spec: DruvaSpec,
    /// How much one refresh may read.
    limits: crate::config::HttpSpec,
    api: DruvaApi,
    legacy: Option<LegacyEvents>,
    clock: Clock,
}

impl Druva {
    /// Where a read of `report` starts (the `lastUpdatedTime` filter) and whether it is a
    /// full read, given the report's cursor (absent on the first read).
    fn read_window(
        &self,
        report: &reports::Report,
        cursor: Option<Cursor>,
        now: i64,
    ) -> (Option<i64>, bool) {
        let full_read_due = |c: &Cursor| {
            c.last_full_ms
                .is_none_or(|t| now - t >= self.spec.full_read_interval.as_millis() as i64)
        };
        match report.kind {
            Kind::Totals => (None, true),
            // Without a date filter the API answers with the last 24 hours only.
            Kind::CurrentState => match cursor {
                Some(c) if !full_read_due(&c) => (Some(c.last_sync_ms - OVERLAP_MS), false),
                _ => (Some(FAR_PAST_MS), true),
            },
            // The first read takes the API's default window (the last 24 hours).
            Kind::Activity => (cursor.map(|c| c.last_sync_ms - OVERLAP_MS), false),
        }
    }

    /// Reads every configured report, from the cursors of `previous`; nothing is applied
    /// until every report has been read, so a failed read changes nothing.
    async fn read_reports(
        &self,
        previous: Option<&DruvaState>,
        now: i64,
    ) -> Result<Vec<Read>, RefreshError> {
        use futures_util::{StreamExt, TryStreamExt};
        let budget = ReadBudget::new(&self.limits);
        // Up to `max_in_flight` reports are read side by side (each report's own pages one
        // after another, as its nextPageToken requires), then applied in catalogue order,
        // so the state is the same whatever order they finish in.
        let report = |i: usize| {
            reports::find(self.spec.reports[i]).expect("configured reports are in the catalogue")
        };
        // Plans hold no reference: the compiler cannot yet see that a stream of futures
        // borrowing them is Send.
        let mut plans: Vec<_> = (0..self.spec.reports.len())
            .map(|i| {
                let cursor = previous.and_then(|s| s.cursors.get(report(i).id).copied());
                let (since, full) = self.read_window(report(i), cursor, now);
                (i, cursor, since, full)
            })
            .collect();
        // The longest reads start first, so they never wait behind short ones: a refresh
        // lasts at least as long as its longest report's pages one after another. The
        // last read's pages tell; before any, the reports with rows for every user.
        plans.sort_by_key(|(i, cursor, _, _)| {
            let pages = cursor.map_or(0, |c| c.pages);
            (std::cmp::Reverse(pages), !report(*i).per_user(), *i)
        });
        let budget = &budget;
        let mut reads: Vec<_> = futures_util::stream::iter(plans)
            .map(|(i, cursor, since, full)| async move {
                let read = self
                    .api
                    .read_report(report(i), since, false, budget)
                    .await?;
                Ok::<_, RefreshError>(Read {
                    index: i,
                    report: report(i),
                    cursor,
                    full,
                    read,
                })
            })
            .buffer_unordered(self.limits.max_in_flight)
            .try_collect()
            .await?;
        reads.sort_by_key(|r| r.index);
        Ok(reads)
    }

    /// Applies the reports read into `state`, with their new cursors; returns the rows
    /// skipped.
    fn apply_reports(state: &mut DruvaState, reads: Vec<Read>, now: i64) -> SkipCounts {
        crate::runtime::background::debug_assert_low_priority("merging the reports");
        let mut skipped = SkipCounts::default();
        for Read {
            report,
            cursor,
            full,
            read,
            ..
        } in reads
        {
            skipped.merge(&read.skipped);
            state.apply(report, read.pages_of_rows.into_iter().flatten(), full);
            if report.kind != Kind::Totals {
                state.cursors.insert(
                    report.id.to_string(),
                    Cursor {
                        pages: read.pages,
                        last_sync_ms: read.last_sync_ms.unwrap_or(now),
                        last_full_ms: if full {
                            Some(now)
                        } else {
                            cursor.and_then(|c| c.last_full_ms)
                        },
                    },
                );
            }
        }
        skipped
    }

    /// Reads events into `log` from its cursor, through the configured Events API.
    async fn read_events(
        &self,
        log: &mut EventLog,
        skipped: &mut SkipCounts,
        max_pages: u32,
    ) -> Result<(), RefreshError> {
        match &self.spec.events {
            DruvaEvents::None => Ok(()),
            DruvaEvents::V2 => events::read_v2(&self.api, log, skipped, max_pages).await,
            DruvaEvents::Legacy { .. } => {
                let legacy = self.legacy.as_ref().expect("legacy events configured");
                events::read_legacy(
                    &legacy.upstream,
                    &legacy.admin_email,
                    &legacy.token,
                    log,
                    skipped,
                    max_pages,
                )
                .await
            }
        }
    }
}

impl Vendor for Druva {
    const NAME: &'static str = "druva";
    const DEFAULT_URL: Option<&'static str> = Some(config::DEFAULT_URL);
    const FAMILIES: &'static [Family] = families::FAMILIES;
    const LABELS: &'static [&'static str] = families::LABELS;
    #[cfg(test)]
    const TEST_KEYS: &'static str = "    client_id: a\n    client_secret_env: PATH\n";
    #[cfg(any(test, feature = "fuzzing"))]
    const FUZZ_TARGETS: &'static [crate::sources::fuzzing::FuzzTarget] = fuzzing::TARGETS;
    const PRIMARY_STREAM: &'static str = "reports";
    const HELP: HelpParts = HelpParts {
        products: "Druva inSync Microsoft 365 backups",
        alerts_active: "Druva: m365Alerts rows that are active and not deleted.",
        streams: "reports and events (Druva)",
        primary_stream: Self::PRIMARY_STREAM,
    };
    /// Incremental reads merge into the previous resources; job and event counters continue.
    const READS_PREVIOUS: bool = true;
    type Config = DruvaConfig;
    type Spec = DruvaSpec;
    type State = DruvaState;

    fn validate(
        config: DruvaConfig,
        at: &str,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(DruvaSpec, Option<Detail>), FieldError> {
        config.validate(at, warnings)
    }

    fn origin(spec: &DruvaSpec, url: &Url) -> String {
        format!("druva {url} {:?} {:?}", spec.reports, spec.events_kind())
    }

    fn new(spec: &DruvaSpec, context: ClientContext<'_>) -> Result<Self, RefreshError> {
        let legacy = match &spec.events {
            DruvaEvents::Legacy {
                url,
                admin_email,
                token,
            } => Some(LegacyEvents {
                upstream: Upstream::new(
                    url.clone(),
                    context.http,
                    context.requests.clone(),
                    context.limiter.clone(),
                    ErrorReading::of::<Self>(),
                )?,
                admin_email: admin_email.clone(),
                token: token.clone(),
            }),
            _ => None,
        };
        let upstream = Upstream::new(
            context.url.clone(),
            context.http,
            context.requests,
            context.limiter,
            ErrorReading::of::<Self>(),
        )?;
        Ok(Druva {
            api: DruvaApi::new(
                upstream,
                spec.client_id.clone(),
                spec.secret.clone(),
                spec.page_size,
            ),
            spec: spec.clone(),
            limits: context.http.clone(),
            legacy,
            clock: context.clock,
        })
    }

    /// Reads the reports and the events as two streams, side by side: each fails alone
    /// (see [`Refreshed::streams`]).
    async fn refresh(
        &self,
        previous: &Previous<DruvaState>,
    ) -> Result<Refreshed<DruvaState>, RefreshError> {
        let now = self.clock.now_ms();
        let last = previous.get();
        let mut log = last
            .as_ref()
            .and_then(|s| s.events.clone())
            .unwrap_or_default();
        let events = async {
            if matches!(self.spec.events, DruvaEvents::None) {
                return None;
            }
            let mut skipped = SkipCounts::default();
            let read = self.read_events(&mut log, &mut skipped, events::MAX_PAGES);
            Some(read.await.map(|()| (log, skipped)))
        };
        let (reports, events) = tokio::join!(self.read_reports(last.as_deref(), now), events);
        // Every read is done: the last state can be updated in place. The merge is one
        // job on the refresh threads that a timeout cannot interrupt or lose.
        drop(last);
        let mut streams = vec![Stream {
            name: Self::PRIMARY_STREAM,
            error: None,
        }];
        let (mut state, mut skipped) = match reports {
            Ok(reads) => {
                let skipped = previous
                    .change(move |state| Self::apply_reports(state, reads, now))
                    .await;
                (previous.take().unwrap_or_default(), skipped)
            }
            // Without the reports, the events alone are worth keeping only on top of the
            // last good reports.
            // (Taken only then: a failed refresh leaves it with the engine.)
            Err(error) => {
                let events_read = matches!(events, Some(Ok(_)));
                match events_read.then(|| previous.take()).flatten() {
                    Some(state) => {
                        streams[0].error = Some(error);
                        (state, SkipCounts::default())
                    }
                    None => return Err(error),
                }
            }
        };
        match events {
            None => state.events = None,
            Some(Ok((log, events_skipped))) => {
                state.events = Some(log);
                skipped.merge(&events_skipped);
                streams.push(Stream {
                    name: EVENTS_STREAM,
                    error: None,
                });
            }
            // The counters and the cursor stay as they were: nothing lost, nothing doubled.
            Some(Err(error)) => streams.push(Stream {
                name: EVENTS_STREAM,
                error: Some(error),
            }),
        }
        Ok(Refreshed {
            state,
            skipped,
            streams,
        })
    }

    fn advice(error: &RefreshError) -> Option<&'static str> {
        match error {
            RefreshError::Status { status: 403, .. } => Some(
                "the credentials work but may not read this: give the API client a role that can read reports (Druva: read access to reporting)",
            ),
            _ => None,
        }
    }

    fn error_message(body: &[u8]) -> Option<String> {
        api::error_message(body)
    }

    fn error_retryable(body: &[u8]) -> bool {
        api::error_retryable(body)
    }

    async fn check(&self) -> Result<Vec<String>, RefreshError> {
        let lifetime = self.api.fetch_token().await?.lifetime;
        let mut lines = vec![format!(
            "authenticated as API client {:?}; the token is valid for {}",
            self.spec.client_id,
            humantime::format_duration(lifetime)
        )];
        for id in &self.spec.reports {
            let report = reports::find(id).expect("configured reports are in the catalogue");
            let (since, _) = self.read_window(report, None, self.clock.now_ms());
            let read = self
                .api
                .read_report(report, since, true, &ReadBudget::new(&self.limits))
                .await?;
            lines.push(format!(
                "report {}: {} rows on the first page, rows skipped: {}; {}",
                report.id,
                read.pages_of_rows.iter().map(Vec::len).sum::<usize>(),
                read.skipped.describe(),
                if read.more {
                    "more pages follow"
                } else {
                    "that is the whole report"
                }
            ));
        }
        if !matches!(self.spec.events, DruvaEvents::None) {
            let mut log = EventLog::default();
            let mut skipped = SkipCounts::default();
            self.read_events(&mut log, &mut skipped, 1).await?;
            lines.push(format!(
                "events: {} on the first page, rows skipped: {}",
                log.counts.values().sum::<u64>(),
                skipped.describe()
            ));
        }
        Ok(lines)
    }
}
