//! One (member, program) group of a batch: record the logs in their periods, recompute with the
//! pure engine, write new rewards once, commit under the head's version (steps 1–5).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use aws_sdk_dynamodb::types::AttributeValue;
use domain::analytics::{Campaign, RewardFact};
use domain::log::LogKind;
use domain::member::Member;
use domain::points::PointsEntry;
use domain::program::Program;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use engine::{
    challenge_crossings, challenge_windows, streak_crossings, streak_runs, CountedLog,
    MilestoneRule, Period,
};
use store::{PointsWrite, ProgressCommit, ProgressHead, RewardWrite, Store, StoreError};

/// A log or grant as the engine counts it (a grant's count is its value).
fn counted(e: &CountedEvent) -> CountedLog {
    CountedLog {
        id: e.log.id.clone(),
        activity_at: e.log.activity_at,
        value: e
            .log
            .activity_value
            .map(|a| a.decimal())
            .unwrap_or_default(),
    }
}

use super::*;

/// What a (member, program) group adds to the member's analytics.
#[derive(Default)]
pub(super) struct GroupOutcome {
    pub(super) rewards: Vec<RewardFact>,
    pub(super) campaign: Option<(String, Campaign)>,
    /// Whether records were written (not a replay that changed nothing).
    pub(super) committed: bool,
    /// The member's latest run or window of the program as stored after the group (its `ver`
    /// included): what a streak or challenge board ranks.
    pub(super) latest: Option<Value>,
}

/// The latest record (by run or window key) of `tail` as `puts` change it.
fn latest_of(tail: &[Value], puts: &[Value], deletes: &[String]) -> Option<Value> {
    let key = |v: &Value| {
        v["runKey"]
            .as_str()
            .or_else(|| v["windowKey"].as_str())
            .map(str::to_string)
    };
    let same = |a: &Value, b: &Value| a["SK"] == b["SK"];
    tail.iter()
        .filter(|s| !puts.iter().any(|p| same(p, s)))
        .filter(|s| !deletes.iter().any(|d| s["SK"].as_str() == Some(d.as_str())))
        .chain(puts)
        .filter(|v| key(v).is_some())
        .max_by_key(|v| key(v))
        .cloned()
}

/// One (member, program) group: its tenant and program, and the counted logs and freeze grants
/// of the batch (none when the clock's sweep recomputes a run at a deadline).
pub(super) struct Group<'a> {
    pub(super) tenant: &'a Tenant,
    pub(super) program_id: &'a str,
    pub(super) events: Vec<&'a CountedEvent>,
}

pub(super) async fn process_group(
    store: &Store,
    programs: &Programs,
    member: &Member,
    group: Group<'_>,
    now: Timestamp,
) -> Result<GroupOutcome, StoreError> {
    let (tenant, member_id, program_id) = (group.tenant, &member.id, group.program_id);
    let mut outcome = GroupOutcome::default();
    let events: Vec<&CountedEvent> = group
        .events
        .iter()
        .copied()
        .filter(|e| e.log.counts_toward_progress)
        .collect();
    if events.is_empty() && !group.events.is_empty() {
        return Ok(outcome);
    }
    // The version the logs were accepted under, if they all name the same one.
    let version = events
        .first()
        .and_then(|e| e.log.program_version.as_deref())
        .filter(|v| {
            events
                .iter()
                .all(|e| e.log.program_version.as_deref() == Some(v))
        });
    let Some(context) = programs.get(store, tenant, program_id, version).await? else {
        return Ok(outcome);
    };
    let (program, milestone_programs) = (&context.program, &context.milestones);
    let kind = program.kind;
    let Some(rule) = rule_of(program, member.timezone.as_deref()) else {
        return Ok(outcome);
    };
    let aggregation = match &rule {
        Rule::Streak(r) => &r.aggregation,
        Rule::Challenge(r) => &r.aggregation,
    };
    // Freeze grants count for a streak that lets members hold freezes; they are kept whatever
    // the rule (a later `maxFreezes` sees them).
    let (grants, events): (Vec<&CountedEvent>, Vec<&CountedEvent>) = events
        .into_iter()
        .partition(|e| e.log.kind == LogKind::Freeze);
    let new_grants: Vec<CountedLog> = grants.iter().map(|e| counted(e)).collect();
    let freezes = matches!(&rule, Rule::Streak(r) if r.freezes.max > 0);

    // 1. The batch's logs by period (written below, one write per period). A record delivered
    // twice in one batch is one log.
    let mut by_period: BTreeMap<String, Vec<CountedLog>> = BTreeMap::new();
    let mut by_period_key: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for e in events.iter().filter(|e| seen.insert(e.log.id.as_str())) {
        let log = counted(e);
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
    // A streak with freezes is recomputed from its first run: what a member holds carries from
    // run to run (an empty key reads every record).
    let first_period = by_period.keys().next().cloned().unwrap_or_default();
    let first_key = match freezes {
        true => String::new(),
        false => by_period_key.values().next().cloned().unwrap_or_default(),
    };
    let mut rewards: BTreeMap<String, RewardFact> = BTreeMap::new();
    for attempt in 0..MAX_COMMIT_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(store::backoff(attempt)).await;
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
        let all_grants = match (attempt, new_grants.is_empty(), freezes) {
            (0, false, _) => {
                store
                    .record_freeze_grants(tenant, member_id, program_id, &new_grants)
                    .await?
            }
            (_, _, true) => store.freeze_grants(tenant, member_id, program_id).await?,
            _ => Vec::new(),
        };
        let all_grants = if freezes { all_grants } else { Vec::new() };
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
                // With freezes the tail is every record: start at the earlier of the first
                // run and the batch's first period (empty when the batch has no logs).
                let at_or_before = tail
                    .first()
                    .filter(|run| freezes || run["runKey"].as_str() <= Some(first_key.as_str()));
                let stored_start = at_or_before.and_then(|run| run["runStartDay"].as_str());
                let from_day = match stored_start {
                    Some(day) if first_period.is_empty() || day < first_period.as_str() => day,
                    _ => first_period.as_str(),
                }
                .to_string();
                let counted = store
                    .counted_logs(tenant, member_id, program_id, &from_day, None)
                    .await?;
                let runs = streak_runs(r, &counted, &all_grants, now);
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
        inherit_at_risk(&stored, &mut records);
        let mut records: Vec<Value> = records.into_iter().map(as_stored).collect();
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
            if let Some(id) = id.as_deref() {
                credit_reward_points(
                    store,
                    tenant,
                    member_id,
                    id,
                    milestone,
                    crossing.reached_at,
                    now,
                )
                .await?;
            }
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
        // No run yet and none to write (a grant processed before the member's first log): commit
        // nothing, since the first commit writes the program's marker and a marker written now
        // would make the first log's commit collide with it forever.
        if puts.is_empty() && deletes.is_empty() && head.is_none() {
            outcome.rewards = rewards.into_values().collect();
            return Ok(outcome);
        }
        outcome.latest = latest_of(&tail, &puts, &deletes);
        let counters_before = tail
            .last()
            .map(|h| (counter(h, "windowsJoined"), counter(h, "windowsCompleted")));
        if puts.is_empty()
            && deletes.is_empty()
            && head.is_some()
            && counters_before == Some((campaign.windows_joined, campaign.windows_completed))
        {
            campaign.version = ver - 1;
            outcome.campaign = Some((program_id.to_string(), campaign));
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
                outcome.committed = true;
                outcome.latest = latest_of(&tail, &puts, &deletes);
                outcome.campaign = Some((program_id.to_string(), campaign));
                outcome.rewards = rewards.into_values().collect();
                return Ok(outcome);
            }
            Err(StoreError::Contended) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Contended)
}

/// A reward's points go to the member's ledger once: the credit's key is the reward's id, so a
/// retried batch, a replay or a reconcile finds it written. A member deleted meanwhile takes none.
async fn credit_reward_points(
    store: &Store,
    tenant: &Tenant,
    member_id: &str,
    reward_id: &str,
    milestone: &Program,
    reached_at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(points) = milestone
        .reward_points
        .filter(|p| p.decimal().is_sign_positive() && !p.decimal().is_zero())
    else {
        return Ok(());
    };
    let credit = PointsEntry::reward_credit(
        domain::ids::new_id(),
        member_id,
        reward_id,
        points,
        reached_at,
    );
    match store
        .insert_points_entry(tenant, &credit, None, now)
        .await?
    {
        PointsWrite::Created | PointsWrite::Exists(_) | PointsWrite::NoMember => Ok(()),
        // A credit is never a spend.
        PointsWrite::Insufficient => Err(StoreError::Other("a reward credit was refused".into())),
    }
}
