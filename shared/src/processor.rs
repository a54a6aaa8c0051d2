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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_lambda_events::dynamodb::EventRecord;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::analytics::{BatchFacts, Campaign, LogFact, RewardFact};
use crate::log::{ActivityLog, LogKind};
use crate::member::Member;
use crate::program::Program;
use crate::progress::{
    challenge_crossings, challenge_windows, streak_crossings, streak_runs, Aggregation,
    AggregationMethod, ChallengeRule, ChallengeStatus, CountedLog, Crossing, MilestoneRule, Period,
    PeriodKind, StreakRule, StreakStatus, TaskProgress,
};
use crate::store::{
    tenant_of_key, ProgressCommit, ProgressHead, RewardWrite, Store, StoreError, LOG_SK, MEMBER_SK,
};
use crate::tenant::Tenant;
use crate::time::{self, Timestamp};
use aws_sdk_dynamodb::types::AttributeValue;

/// Members of one batch processed at the same time: each is a chain of small round trips, so
/// overlapping many keeps a large batch (the template hands over up to 1,000 records) short.
const MEMBERS_AT_ONCE: usize = 64;

/// Optimistic commits lost to concurrent batches before the records are reported as failed (and
/// redelivered by the event source mapping).
const MAX_COMMIT_ATTEMPTS: u32 = 12;

/// A new log taken from a stream record (it may or may not count toward progress).
#[derive(Debug, Clone)]
pub struct CountedEvent {
    /// The record's sequence number: what a partial batch failure reports.
    pub sequence: String,
    pub tenant: Tenant,
    pub log: ActivityLog,
}

/// A change of the table this processor acts on.
#[derive(Debug, Clone)]
pub enum Change {
    Log(CountedEvent),
    /// A member item was removed: a DELETE, or a change of `externalId` (the item moves).
    MemberRemoved {
        sequence: String,
        tenant: Tenant,
        member_id: String,
    },
}

impl Change {
    fn sequence(&self) -> &str {
        match self {
            Change::Log(e) => &e.sequence,
            Change::MemberRemoved { sequence, .. } => sequence,
        }
    }

    fn member(&self) -> (&Tenant, &str) {
        match self {
            Change::Log(e) => (&e.tenant, &e.log.owned_by_id),
            Change::MemberRemoved {
                tenant, member_id, ..
            } => (tenant, member_id),
        }
    }
}

fn sequence_of(record: &EventRecord) -> String {
    record
        .change
        .sequence_number
        .clone()
        .unwrap_or_else(|| record.event_id.clone())
}

fn string_attr(image: &serde_dynamo::Item, name: &str) -> Option<String> {
    image
        .get(name)
        .and_then(|v| serde_dynamo::from_attribute_value(v.clone()).ok())
}

/// `Ok(None)` for records this processor does not handle.
pub fn parse(record: &EventRecord) -> Result<Option<Change>, String> {
    match record.event_name.as_str() {
        "INSERT" => {
            let image = &record.change.new_image;
            let pk = string_attr(image, "PK").ok_or("record without PK")?;
            if string_attr(image, "SK").as_deref() != Some(LOG_SK) {
                return Ok(None);
            }
            let log: ActivityLog =
                serde_dynamo::from_item(image.clone()).map_err(|e| format!("not a log: {e}"))?;
            Ok(Some(Change::Log(CountedEvent {
                sequence: sequence_of(record),
                tenant: tenant_of_key(&pk)?,
                log,
            })))
        }
        "REMOVE" => {
            let keys = &record.change.keys;
            if string_attr(keys, "SK").as_deref() != Some(MEMBER_SK) {
                return Ok(None);
            }
            let pk = string_attr(keys, "PK").ok_or("record without PK")?;
            let member_id = string_attr(&record.change.old_image, "id")
                .ok_or("member removal without the old image's id")?;
            Ok(Some(Change::MemberRemoved {
                sequence: sequence_of(record),
                tenant: tenant_of_key(&pk)?,
                member_id,
            }))
        }
        _ => Ok(None),
    }
}

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
    let issued = std::sync::atomic::AtomicUsize::new(0);
    let issued_ref = &issued;
    let mut work =
        futures_util::stream::iter(by_member.into_values())
            .map(|changes| async move {
                process_member(store, programs, &changes, now, issued_ref).await
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
            Change::MemberRemoved { .. } => None,
        })
        .collect();
    let member = match store.member_by_id(tenant, member_id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = ?e, member = %member_id, "member read failed");
            return all();
        }
    };
    let Some(member) = member else {
        return match delete_what_is_left(store, tenant, member_id, &events).await {
            Ok(()) => Vec::new(),
            Err(_) => all(),
        };
    };
    // A removal of a member that still exists was a change of its `externalId`: nothing to do.
    let mut failed = Vec::new();
    let mut facts = BatchFacts {
        logs: events
            .iter()
            .map(|e| LogFact {
                id: e.log.id.clone(),
                created_at: e.log.created_at,
                activity_at: e.log.activity_at,
                counted: e.log.counts_toward_progress,
            })
            .collect(),
        ..Default::default()
    };
    let mut by_program: BTreeMap<&str, Vec<&CountedEvent>> = BTreeMap::new();
    for e in &events {
        by_program.entry(&e.log.program_id).or_default().push(e);
    }
    for group in by_program.into_values() {
        match process_group(store, programs, &member, &group, now).await {
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
            }
            Err(e) => {
                tracing::error!(error = ?e, member = %member_id, program = %group[0].log.program_id, "progress failed");
                failed.extend(group.iter().map(|e| e.sequence.clone()));
            }
        }
    }
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
    events: &[&CountedEvent],
) -> Result<(), StoreError> {
    let logs: Vec<&ActivityLog> = events.iter().map(|e| &e.log).collect();
    match store.delete_member_activity(tenant, member_id, &logs).await {
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
            tokio::time::sleep(crate::store::backoff(attempt)).await;
        }
        let mut activity = member.activity.clone().unwrap_or_default();
        activity.apply(facts, now.date_naive());
        // Every log is a sighting (SPEC §3 lastSeenAt), whether it counts or not.
        let last_seen = member.last_seen_at.max(latest_log);
        if store
            .update_member_activity(tenant, &member, &activity, last_seen.as_ref())
            .await?
        {
            return Ok(());
        }
        match store.member_by_id(tenant, &member.id).await? {
            Some(m) => member = m,
            None => {
                let events: Vec<&CountedEvent> = Vec::new();
                return delete_what_is_left(store, tenant, &member.id, &events).await;
            }
        }
    }
    Err(StoreError::Contended)
}

/// A record's id: a UUIDv7 whose time is `at` and whose other bits come from the record's key
/// (`parts`), so reprocessing gives the same id and lists (sorted by id) run newest first like
/// the platform's other ids. `at` must not change for the same key.
fn deterministic_id(at: Timestamp, parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\n").as_bytes());
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &bits)
        .into_uuid()
        .to_string()
}

fn task_json(task: &TaskProgress) -> Value {
    serde_json::to_value(task).unwrap_or(Value::Null)
}

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(time::format(&t)))
        .unwrap_or(Value::Null)
}

/// The engine's view of a program for one member.
enum Rule {
    Streak(StreakRule),
    Challenge(ChallengeRule),
}

fn rule_of(program: &Program, member_tz: Option<&str>) -> Option<Rule> {
    let tz = member_tz
        .or(program.timezone.as_deref())
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC);
    let aggregation = Aggregation {
        method: program.aggregation_method.unwrap_or(AggregationMethod::Sum),
        period: program.aggregation_period.unwrap_or(PeriodKind::Daily),
        tz,
    };
    let target = program.completion_target_value?.decimal();
    match program.kind {
        crate::program::ProgramKind::Streak => Some(Rule::Streak(StreakRule {
            aggregation,
            period_target: program.aggregation_target_value?.decimal(),
            completion_target: u32::try_from(rust_decimal::prelude::ToPrimitive::to_u64(&target)?)
                .ok()?,
        })),
        crate::program::ProgramKind::Challenge => Some(Rule::Challenge(ChallengeRule {
            aggregation,
            target,
        })),
        crate::program::ProgramKind::Milestone => None,
    }
}

/// A program and its live milestones, keyed by id.
struct ProgramContext {
    program: Program,
    milestones: HashMap<String, Program>,
}

/// The programs of one batch, each read once however many members log to it (members are
/// processed concurrently: the first asks, the others wait for its answer).
#[derive(Default)]
struct Programs(tokio::sync::Mutex<HashMap<(String, String), ProgramCell>>);

/// One program's context, read once (`None`: no such program).
type ProgramCell = Arc<OnceCell<Option<Arc<ProgramContext>>>>;

impl Programs {
    async fn get(
        &self,
        store: &Store,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Arc<ProgramContext>>, StoreError> {
        let cell = self
            .0
            .lock()
            .await
            .entry((tenant.key_prefix(), id.to_string()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let Some(program) = store.get_program(tenant, id).await? else {
                return Ok(None);
            };
            let milestones = store
                .live_milestones(tenant, id)
                .await?
                .into_iter()
                .map(|m| (m.id.clone(), m))
                .collect();
            Ok(Some(Arc::new(ProgramContext {
                program,
                milestones,
            })))
        })
        .await
        .cloned()
    }
}

/// What a (member, program) group adds to the member's analytics.
#[derive(Default)]
struct GroupOutcome {
    rewards: Vec<RewardFact>,
    campaign: Option<(String, Campaign)>,
}

async fn process_group(
    store: &Store,
    programs: &Programs,
    member: &Member,
    batch: &[&CountedEvent],
    now: Timestamp,
) -> Result<GroupOutcome, StoreError> {
    let first = &batch[0];
    let (tenant, member_id, program_id) = (&first.tenant, &member.id, &first.log.program_id);
    let kind = first.log.kind;
    let mut outcome = GroupOutcome::default();
    let events: Vec<&CountedEvent> = batch
        .iter()
        .copied()
        .filter(|e| e.log.counts_toward_progress)
        .collect();
    if events.is_empty() {
        return Ok(outcome);
    }
    let Some(context) = programs.get(store, tenant, program_id).await? else {
        return Ok(outcome);
    };
    let (program, milestone_programs) = (&context.program, &context.milestones);
    let Some(rule) = rule_of(program, member.timezone.as_deref()) else {
        return Ok(outcome);
    };
    let aggregation = match &rule {
        Rule::Streak(r) => &r.aggregation,
        Rule::Challenge(r) => &r.aggregation,
    };

    // 1. The batch's logs by period (written below, one write per period). A record delivered
    // twice in one batch is one log.
    let mut by_period: BTreeMap<String, Vec<CountedLog>> = BTreeMap::new();
    let mut by_period_key: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for e in events.iter().filter(|e| seen.insert(e.log.id.as_str())) {
        let log = CountedLog {
            id: e.log.id.clone(),
            activity_at: e.log.activity_at,
            value: e
                .log
                .activity_value
                .map(|a| a.decimal())
                .unwrap_or_default(),
        };
        let period = Period::containing(aggregation.period, aggregation.tz, log.activity_at);
        by_period_key.insert(period.first_day.to_string(), period.key());
        by_period
            .entry(period.first_day.to_string())
            .or_default()
            .push(log);
    }

    // 2–4. Recompute, write the rewards it newly earns, and commit what changed under the head's
    // optimistic version. Rewards go first: a commit that is lost (crash or contention) leaves
    // at most a reward that the next attempt finds written (they are never revoked).
    let milestones: Vec<MilestoneRule> = milestone_programs
        .values()
        .filter_map(|m| {
            Some(MilestoneRule {
                id: m.id.clone(),
                target: m.milestone_target_value?.decimal(),
            })
        })
        .collect();
    // Only what the batch can change is read: for a streak, from the start of the stored run at or
    // before the batch's earliest period (runs before it cannot change); for a challenge, the
    // batch's windows.
    let first_period = by_period.keys().next().cloned().unwrap_or_default();
    let first_key = by_period_key.values().next().cloned().unwrap_or_default();
    let mut rewards: BTreeMap<String, RewardFact> = BTreeMap::new();
    for attempt in 0..MAX_COMMIT_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(crate::store::backoff(attempt)).await;
        }
        let tail = store
            .progress_tail(tenant, member_id, program_id, &first_key)
            .await?;
        // After the head is read (so a commit made since makes ours fail): the logs of the
        // batch's periods as they are now — all a challenge's windows need. The first attempt
        // writes the batch's logs and gets them back; a retry reads them again.
        let mut in_batch_periods = Vec::new();
        for (day, logs) in &by_period {
            in_batch_periods.extend(match (attempt, &rule) {
                (0, _) => {
                    store
                        .record_period_logs(tenant, member_id, program_id, day, logs)
                        .await?
                }
                (_, Rule::Challenge(_)) => {
                    store
                        .counted_logs(tenant, member_id, program_id, day, Some(day))
                        .await?
                }
                (_, Rule::Streak(_)) => Vec::new(),
            });
        }
        let head = tail.last().and_then(|r| {
            Some(ProgressHead {
                sk: r["SK"].as_str()?.to_string(),
                ver: r["ver"].as_u64().unwrap_or(0),
            })
        });
        let ver = head.as_ref().map_or(0, |h| h.ver) + 1;
        let mut campaign = Campaign {
            version: ver,
            windows_joined: tail.last().map_or(0, |h| counter(h, "windowsJoined")),
            windows_completed: tail.last().map_or(0, |h| counter(h, "windowsCompleted")),
        };
        let (stored, mut records, crossings) = match &rule {
            Rule::Streak(r) => {
                let at_or_before = tail
                    .first()
                    .filter(|run| run["runKey"].as_str() <= Some(first_key.as_str()));
                let from_day = at_or_before
                    .and_then(|run| run["runStartDay"].as_str())
                    .unwrap_or(&first_period)
                    .to_string();
                let counted = store
                    .counted_logs(tenant, member_id, program_id, &from_day, None)
                    .await?;
                let runs = streak_runs(r, &counted, now);
                let crossings = streak_crossings(&runs, &milestones);
                let records: Vec<Value> = runs
                    .iter()
                    .map(|run| streak_record(tenant, program, member_id, run, now))
                    .collect();
                // The records from the run at or before the batch on are all recomputed (the
                // tail starts there).
                (tail.clone(), records, crossings)
            }
            Rule::Challenge(r) => {
                // A window is a period: the batch's windows are the periods just written, and
                // the others are neither recomputed nor touched.
                let counted = &in_batch_periods;
                let crossings = challenge_crossings(r, counted, &milestones);
                let stored: Vec<Value> = tail
                    .iter()
                    .filter(|w| {
                        w["windowKey"]
                            .as_str()
                            .is_some_and(|k| by_period_key.values().any(|b| b == k))
                    })
                    .cloned()
                    .collect();
                let windows: Vec<Value> = challenge_windows(r, counted, now)
                    .iter()
                    .map(|w| challenge_record(tenant, program, member_id, w, now))
                    .collect();
                let (joined, completed) = new_windows(&stored, &windows);
                campaign.windows_joined += joined;
                campaign.windows_completed += completed;
                (stored, windows, crossings)
            }
        };
        inherit_rewarded(&stored, &mut records);
        for crossing in &crossings {
            let Some(milestone) = milestone_programs.get(&crossing.milestone_id) else {
                continue;
            };
            let Some(record) = records
                .iter_mut()
                .find(|r| progress_key(r) == Some(crossing.progress_key.as_str()))
            else {
                continue;
            };
            if rewarded(record).any(|m| m == milestone.id) {
                continue;
            }
            let reward = reward_record(tenant, kind, program, milestone, member_id, crossing, now);
            let (created_at, id) = match store.put_reward_once(&reward).await? {
                RewardWrite::Created => (Some(now), reward["id"].as_str().map(str::to_string)),
                // Written by an earlier attempt (its id stands); the analytics know whether they
                // counted it.
                RewardWrite::Existed { created_at, id } => (created_at, id),
            };
            if let (Some(created_at), Some(id)) = (created_at, id.as_deref()) {
                rewards.insert(
                    id.to_string(),
                    RewardFact {
                        id: id.to_string(),
                        created_at,
                        reached_at: crossing.reached_at,
                        points: milestone.reward_points.unwrap_or_default().decimal(),
                    },
                );
            }
            let mut ids: Vec<String> = rewarded(record).map(str::to_string).collect();
            ids.push(milestone.id.clone());
            ids.sort();
            record["rewarded"] = json!(ids);
        }
        let (mut puts, deletes) = diff(&stored, records);
        // Nothing to write (a replayed batch, a log that changes nothing): progress only grows with
        // logs (values are never negative), so a concurrent commit that missed these logs cannot
        // differ from what is stored either, and skipping keeps replays free.
        let counters_before = tail
            .last()
            .map(|h| (counter(h, "windowsJoined"), counter(h, "windowsCompleted")));
        if puts.is_empty()
            && deletes.is_empty()
            && head.is_some()
            && counters_before == Some((campaign.windows_joined, campaign.windows_completed))
        {
            campaign.version = ver - 1;
            outcome.campaign = Some((program_id.clone(), campaign));
            outcome.rewards = rewards.into_values().collect();
            return Ok(outcome);
        }
        // A streak has no window counters: its records carry only the version.
        let counters = [
            ("ver", AttributeValue::N(ver.to_string())),
            (
                "windowsJoined",
                AttributeValue::N(campaign.windows_joined.to_string()),
            ),
            (
                "windowsCompleted",
                AttributeValue::N(campaign.windows_completed.to_string()),
            ),
        ];
        let counters = match rule {
            Rule::Streak(_) => &counters[..1],
            Rule::Challenge(_) => &counters[..],
        };
        for put in &mut puts {
            put["ver"] = json!(ver);
            if matches!(rule, Rule::Challenge(_)) {
                put["windowsJoined"] = json!(campaign.windows_joined);
                put["windowsCompleted"] = json!(campaign.windows_completed);
            }
        }
        match store
            .commit_progress(
                tenant,
                member_id,
                program_id,
                &ProgressCommit {
                    head: head.as_ref(),
                    puts: &puts,
                    deletes: &deletes,
                    touch: counters,
                },
            )
            .await
        {
            Ok(()) => {
                outcome.campaign = Some((program_id.clone(), campaign));
                outcome.rewards = rewards.into_values().collect();
                return Ok(outcome);
            }
            Err(StoreError::Contended) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Contended)
}

fn counter(record: &Value, name: &str) -> u64 {
    record[name].as_u64().unwrap_or(0)
}

fn progress_key(record: &Value) -> Option<&str> {
    record["runKey"]
        .as_str()
        .or_else(|| record["windowKey"].as_str())
}

/// The milestones a record has been rewarded for.
fn rewarded(record: &Value) -> impl Iterator<Item = &str> {
    record["rewarded"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// A recomputed record keeps the rewards of the stored records it covers: a window its own, a
/// run those of every stored run it absorbed (runs only grow and join; the stored run starting at
/// a day belongs to the last computed run starting at or before it). So a backfill that moves a
/// run's start does not reward its milestones again.
fn inherit_rewarded(stored: &[Value], computed: &mut [Value]) {
    for old in stored {
        let ids: Vec<String> = rewarded(old).map(str::to_string).collect();
        if ids.is_empty() {
            continue;
        }
        let owner = match old["runStartDay"].as_str() {
            Some(day) => computed
                .iter_mut()
                .rfind(|c| c["runStartDay"].as_str().is_some_and(|d| d <= day)),
            None => computed.iter_mut().find(|c| c["SK"] == old["SK"]),
        };
        if let Some(owner) = owner {
            let mut all: Vec<String> = rewarded(owner).map(str::to_string).collect();
            all.extend(ids);
            all.sort();
            all.dedup();
            owner["rewarded"] = json!(all);
        }
    }
}

/// Challenge windows that `computed` adds to `stored` (same range), and windows it completes.
fn new_windows(stored: &[Value], computed: &[Value]) -> (u64, u64) {
    let status = |v: &Value| v["challengeProgressStatus"].as_str() == Some("completed");
    let mut joined = 0;
    let mut completed = 0;
    for window in computed {
        let before = stored.iter().find(|s| s["SK"] == window["SK"]);
        joined += u64::from(before.is_none());
        completed += u64::from(status(window) && !before.is_some_and(status));
    }
    (joined, completed)
}

/// Records to write (new or changed, ignoring `updatedAt`) and sort keys to delete.
fn diff(stored: &[Value], computed: Vec<Value>) -> (Vec<Value>, Vec<String>) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            for bookkeeping in ["updatedAt", "ver", "windowsJoined", "windowsCompleted"] {
                o.remove(bookkeeping);
            }
        }
        v
    };
    let stored_by_sk: HashMap<&str, &Value> = stored
        .iter()
        .filter_map(|v| Some((v["SK"].as_str()?, v)))
        .collect();
    let computed_sks: Vec<String> = computed
        .iter()
        .filter_map(|v| v["SK"].as_str().map(str::to_string))
        .collect();
    let puts = computed
        .into_iter()
        .filter(|v| {
            let sk = v["SK"].as_str().unwrap_or_default();
            stored_by_sk
                .get(sk)
                .is_none_or(|old| strip(old) != strip(v))
        })
        .collect();
    let deletes = stored_by_sk
        .keys()
        .filter(|sk| !computed_sks.iter().any(|c| c == *sk))
        .map(|sk| sk.to_string())
        .collect();
    (puts, deletes)
}

fn with_keys(keys: Map<String, Value>, record: Value) -> Value {
    let mut out = keys;
    if let Value::Object(fields) = record {
        out.extend(fields);
    }
    Value::Object(out)
}

fn streak_record(
    tenant: &Tenant,
    program: &Program,
    member_id: &str,
    run: &crate::progress::StreakRun,
    now: Timestamp,
) -> Value {
    // A run's key is its first period: the id's time is that period's first day.
    let first_day = run.start_day.and_time(chrono::NaiveTime::MIN).and_utc();
    let id = deterministic_id(
        first_day,
        &[
            &tenant.key_prefix(),
            "streak_progress",
            &program.id,
            member_id,
            &run.run_key,
        ],
    );
    let status = match run.status {
        StreakStatus::InProgress => "in_progress",
        StreakStatus::Completed => "completed",
        StreakStatus::Broken => "broken",
    };
    with_keys(
        Store::progress_keys(
            tenant,
            member_id,
            &program.id,
            &run.run_key,
            "streak_progress",
            &id,
        ),
        json!({
            "id": id,
            "streakId": program.id,
            "ownedById": member_id,
            "runKey": run.run_key,
            "runStartDay": run.start_day.to_string(),
            "currentProgressValue": run.completed_periods,
            "streakProgressStatus": status,
            "streakStartedAt": time::format(&run.started_at),
            "streakCompletedAt": opt_time(run.completed_at),
            "streakBrokenAt": opt_time(run.broken_at),
            "breaksAt": opt_time(run.breaks_at),
            "taskProgress": task_json(&run.task),
            "createdAt": time::format(&run.started_at),
            "updatedAt": time::format(&now),
        }),
    )
}

fn challenge_record(
    tenant: &Tenant,
    program: &Program,
    member_id: &str,
    w: &crate::progress::ChallengeWindow,
    now: Timestamp,
) -> Value {
    let id = deterministic_id(
        w.task.period_start,
        &[
            &tenant.key_prefix(),
            "challenge_progress",
            &program.id,
            member_id,
            &w.window_key,
        ],
    );
    let status = match w.status {
        ChallengeStatus::InProgress => "in_progress",
        ChallengeStatus::Completed => "completed",
        ChallengeStatus::Failed => "failed",
    };
    with_keys(
        Store::progress_keys(
            tenant,
            member_id,
            &program.id,
            &w.window_key,
            "challenge_progress",
            &id,
        ),
        json!({
            "id": id,
            "challengeId": program.id,
            "ownedById": member_id,
            "windowKey": w.window_key,
            "currentProgressValue": crate::amount::Amount::from(w.value),
            "challengeProgressStatus": status,
            "challengeCompletedAt": opt_time(w.completed_at),
            "challengeFailedAt": opt_time(w.failed_at),
            "taskProgress": task_json(&w.task),
            "createdAt": time::format(&w.task.period_start),
            "updatedAt": time::format(&now),
        }),
    )
}

fn reward_record(
    tenant: &Tenant,
    kind: LogKind,
    program: &Program,
    milestone: &Program,
    member_id: &str,
    crossing: &Crossing,
    now: Timestamp,
) -> Value {
    // A reward sorts by when its milestone was reached. A backfill can move that moment; the
    // reward is written once, so the stored id stays (see `put_reward_once`).
    let id = deterministic_id(
        crossing.reached_at,
        &[
            &tenant.key_prefix(),
            "reward_log",
            &milestone.id,
            member_id,
            &crossing.progress_key,
        ],
    );
    with_keys(
        Store::reward_keys(
            tenant,
            member_id,
            &milestone.id,
            &crossing.progress_key,
            &id,
        ),
        json!({
            "id": id,
            "ownedById": member_id,
            "linkedSchemaSlug": kind.program_kind().slug(),
            "linkedSchemaRecordId": program.id,
            "milestoneId": milestone.id,
            "milestone": milestone.to_record(),
            "progressKey": crossing.progress_key,
            "periodKey": crossing.period_key,
            "couponCode": null,
            "rewardIssuedAt": time::format(&crossing.reached_at),
            "rewardExpiryAt": null,
            "createdAt": time::format(&now),
            "updatedAt": time::format(&now),
        }),
    )
}
