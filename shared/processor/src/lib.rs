//! The stream processor (SPEC §6): turns counted logs from the table's stream into progress
//! records and rewards, safely under replays, duplicates, concurrent batches and any order.
//!
//! Per member touched by a batch, and per (member, program) within it, it
//! 1. reads the member's last progress record in the program (the head, which carries the
//!    optimistic version) and the records the batch can change,
//! 2. records the batch's logs in their periods' items (one write per period: work collapses),
//! 3. recomputes the member's runs or windows with the pure engine,
//! 4. writes each newly reached milestone's reward once (conditional on its key; rewards are
//!    never revoked) and notes it on the record, and
//! 5. commits the records that changed, conditional on the head being unchanged (one write when
//!    only the head changes), retrying from 1 if another batch committed meanwhile, so the last
//!    commit always saw every recorded log;
//! 6. and folds the batch into the member's analytics and `lastSeenAt` in one conditional write
//!    per member (SPEC §7; replays are recognised by the ids applied).
//!
//! The REMOVE of a member item (DELETE) and any log of a member that no longer exists start the
//! deletion cascade: everything the member left is deleted (SPEC §3).

mod boards;
mod change;
mod group;
mod programs;
pub mod reconcile;
mod records;
pub mod sweep;

pub use boards::period_key;
pub use change::{parse, Change, CountedEvent, JourneyEventSeen, PointsSeen};

use change::*;
use group::*;
use programs::*;
use records::*;

use std::collections::BTreeMap;

use aws_lambda_events::dynamodb::EventRecord;
use futures_util::StreamExt;

use domain::analytics::{BatchFacts, LogFact};
use domain::member::Member;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use store::{Store, StoreError};

/// Members of one batch processed at the same time: each is a chain of small round trips, so
/// overlapping many keeps a large batch (the template hands over up to 1,000 records) short.
const MEMBERS_AT_ONCE: usize = 64;

/// Optimistic commits lost to concurrent batches before the records are reported as failed (and
/// redelivered by the event source mapping).
const MAX_COMMIT_ATTEMPTS: u32 = 12;

/// What a batch did: the records that failed, and the figures the processor reports as metrics.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchReport {
    pub failed: Vec<String>,
    /// New logs the batch held (counted or not).
    pub logs: usize,
    /// Rewards this batch wrote (not those an earlier attempt wrote).
    pub rewards_issued: usize,
    /// The oldest `createdAt` of the batch's logs: how far progress trails the API.
    pub oldest_log: Option<Timestamp>,
}

/// Processes a batch; returns the sequence numbers of the records that failed (to be retried).
pub async fn process_batch(store: &Store, records: &[EventRecord], now: Timestamp) -> Vec<String> {
    process_batch_reported(store, records, now).await.failed
}

/// Processes a batch and reports what it did.
/// A record that cannot be parsed fails alone; a failing (member, program) fails its own records;
/// a member whose analytics cannot be written fails all of its records.
pub async fn process_batch_reported(
    store: &Store,
    records: &[EventRecord],
    now: Timestamp,
) -> BatchReport {
    let mut report = BatchReport::default();
    let mut failed = Vec::new();
    let mut by_member: BTreeMap<(String, String), Vec<Change>> = BTreeMap::new();
    for record in records {
        match parse(record) {
            Ok(Some(change)) => {
                if let Change::Log(event) = &change {
                    report.logs += 1;
                    let created = event.log.created_at;
                    report.oldest_log = Some(report.oldest_log.map_or(created, |o| o.min(created)));
                }
                let (tenant, member) = change.member();
                by_member
                    .entry((tenant.key_prefix(), member.to_string()))
                    .or_default()
                    .push(change);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(event_id = %record.event_id, error = %e, "poison stream record");
                failed.push(sequence_of(record));
            }
        }
    }
    // Members are independent (their items never overlap), so their work overlaps: a batch of
    // a hundred members costs a few round trips of latency, not a hundred times that.
    let programs = Programs::default();
    let programs = &programs;
    let boards = boards::LiveBoards::default();
    let boards = &boards;
    let issued = std::sync::atomic::AtomicUsize::new(0);
    let issued_ref = &issued;
    let mut work = futures_util::stream::iter(by_member.into_values())
        .map(|changes| async move {
            process_member(store, programs, boards, &changes, now, issued_ref).await
        })
        .buffer_unordered(MEMBERS_AT_ONCE);
    while let Some(member_failed) = work.next().await {
        failed.extend(member_failed);
    }
    drop(work);
    report.failed = failed;
    report.rewards_issued = issued.into_inner();
    report
}

/// One member's changes of a batch; returns the sequence numbers that failed.
async fn process_member(
    store: &Store,
    programs: &Programs,
    boards: &boards::LiveBoards,
    changes: &[Change],
    now: Timestamp,
    rewards_issued: &std::sync::atomic::AtomicUsize,
) -> Vec<String> {
    let all = || changes.iter().map(|c| c.sequence().to_string()).collect();
    let (tenant, member_id) = changes[0].member();
    let events: Vec<&CountedEvent> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Log(e) => Some(e),
            _ => None,
        })
        .collect();
    let journey: Vec<&JourneyEventSeen> = changes
        .iter()
        .filter_map(|c| match c {
            Change::JourneyEvent(e) => Some(e),
            _ => None,
        })
        .collect();
    // Table keys of what this batch wrote for the member: removed too if the member is gone.
    let written: Vec<(String, String)> = events
        .iter()
        .map(|e| e.key.clone())
        .chain(journey.iter().map(|e| e.key.clone()))
        .collect();
    let member = match store.member_by_id(tenant, member_id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = ?e, member = %member_id, "member read failed");
            return all();
        }
    };
    let Some(member) = member else {
        return match delete_what_is_left(store, tenant, member_id, &written).await {
            Ok(()) => Vec::new(),
            Err(_) => all(),
        };
    };
    // A removal of a member that still exists was a change of its `externalId`: nothing to do.
    let mut failed = Vec::new();
    let mut facts = BatchFacts {
        // A freeze grant is the operator's, not the member's activity.
        logs: events
            .iter()
            .filter(|e| e.log.kind != domain::log::LogKind::Freeze)
            .map(|e| LogFact {
                id: e.log.id.clone(),
                created_at: e.log.created_at,
                activity_at: e.log.activity_at,
                counted: e.log.counts_toward_progress,
            })
            // An event is an uncounted log to the analytics: an event, not a play. Its id is the
            // client's, so it is kept apart from log ids (which are ours).
            .chain(journey.iter().map(|e| LogFact {
                id: format!("event:{}", e.event_id),
                created_at: e.received_at,
                activity_at: e.occurred_at,
                counted: false,
            }))
            .collect(),
        ..Default::default()
    };
    let mut by_program: BTreeMap<&str, Vec<&CountedEvent>> = BTreeMap::new();
    for e in &events {
        by_program.entry(&e.log.program_id).or_default().push(e);
    }
    for (program_id, group) in by_program {
        let input = Group {
            tenant,
            program_id,
            events: group.clone(),
        };
        match process_group(store, programs, &member, input, now).await {
            Ok(outcome) => {
                // A reward this attempt wrote has `now` as its creation time.
                let new = outcome
                    .rewards
                    .iter()
                    .filter(|r| r.created_at == now)
                    .count();
                rewards_issued.fetch_add(new, std::sync::atomic::Ordering::Relaxed);
                facts.rewards.extend(outcome.rewards);
                facts.campaigns.extend(outcome.campaign);
                if let Some(latest) = &outcome.latest {
                    let scored = boards::score_progress(
                        store, boards, &member, tenant, program_id, latest, now,
                    )
                    .await;
                    if let Err(e) = scored {
                        tracing::error!(error = ?e, member = %member_id, program = %program_id, "board score failed");
                        failed.extend(group.iter().map(|e| e.sequence.clone()));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, member = %member_id, program = %program_id, "progress failed");
                failed.extend(group.iter().map(|e| e.sequence.clone()));
            }
        }
    }
    failed.extend(boards::score(store, boards, &member, changes, now).await);
    if facts.logs.is_empty() {
        return failed;
    }
    match record_activity(store, tenant, member, &facts, now).await {
        Ok(()) => failed,
        Err(e) => {
            tracing::error!(error = ?e, member = %member_id, "analytics failed");
            all()
        }
    }
}

/// The deletion cascade, also run when a log of a deleted member arrives (it was written while
/// the member was being deleted): that log and everything else the member left go.
async fn delete_what_is_left(
    store: &Store,
    tenant: &Tenant,
    member_id: &str,
    written: &[(String, String)],
) -> Result<(), StoreError> {
    match store
        .delete_member_activity(tenant, member_id, written)
        .await
    {
        Ok(deleted) => {
            tracing::info!(member = %member_id, deleted, "deleted member's activity removed");
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = ?e, member = %member_id, "deletion cascade failed");
            Err(e)
        }
    }
}

/// Folds the batch into the member's analytics and moves `lastSeenAt` forward, in one write that
/// is conditional on the member being unchanged since read (re-read and redone otherwise). The
/// write also tells whether the member was deleted meanwhile: then the cascade runs here, after
/// this batch's own writes.
async fn record_activity(
    store: &Store,
    tenant: &Tenant,
    mut member: Member,
    facts: &BatchFacts,
    now: Timestamp,
) -> Result<(), StoreError> {
    let latest_log = facts.logs.iter().map(|l| l.created_at).max();
    for attempt in 0..MAX_COMMIT_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(store::backoff(attempt)).await;
        }
        let mut activity = member.activity.clone().unwrap_or_default();
        activity.apply(facts, now.date_naive());
        // Every log and event is a sighting (SPEC §3 lastSeenAt), whether it counts or not.
        let last_seen = member.last_seen_at.max(latest_log);
        if store
            .update_member_activity(tenant, &member, &activity, last_seen.as_ref())
            .await?
        {
            return Ok(());
        }
        match store.member_by_id(tenant, &member.id).await? {
            Some(m) => member = m,
            None => return delete_what_is_left(store, tenant, &member.id, &[]).await,
        }
    }
    Err(StoreError::Contended)
}
