//! Progress and reward records as stored: built from the engine's runs, windows and crossings,
//! with deterministic ids, and compared with what is stored.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use domain::program::{Program, ProgramKind};
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};
use engine::{ChallengeStatus, Crossing, StreakStatus, TaskProgress};
use store::Store;

/// A record's id: a UUIDv7 whose time is `at` and whose other bits come from the record's key
/// (`parts`), so reprocessing gives the same id and lists (sorted by id) run newest first like
/// the platform's other ids. `at` must not change for the same key.
pub(super) fn deterministic_id(at: Timestamp, parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\n").as_bytes());
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &bits)
        .into_uuid()
        .to_string()
}

pub(super) fn task_json(task: &TaskProgress) -> Value {
    serde_json::to_value(task).unwrap_or(Value::Null)
}

pub(super) fn opt_time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(time::format(&t)))
        .unwrap_or(Value::Null)
}

pub(super) fn counter(record: &Value, name: &str) -> u64 {
    record[name].as_u64().unwrap_or(0)
}

pub(super) fn progress_key(record: &Value) -> Option<&str> {
    record["runKey"]
        .as_str()
        .or_else(|| record["windowKey"].as_str())
}

/// The milestones a record has been rewarded for.
pub(super) fn rewarded(record: &Value) -> impl Iterator<Item = &str> {
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
pub(super) fn inherit_rewarded(stored: &[Value], computed: &mut [Value]) {
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
pub(super) fn new_windows(stored: &[Value], computed: &[Value]) -> (u64, u64) {
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
pub(super) fn diff(stored: &[Value], computed: Vec<Value>) -> (Vec<Value>, Vec<String>) {
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

pub(super) fn with_keys(keys: Map<String, Value>, record: Value) -> Value {
    let mut out = keys;
    if let Value::Object(fields) = record {
        out.extend(fields);
    }
    Value::Object(out)
}

/// A recomputed run keeps the note that it was at risk for the period it still waits on (the
/// sweep wrote it; the engine does not know), so the nudge is not sent twice.
pub(super) fn inherit_at_risk(stored: &[Value], computed: &mut [Value]) {
    for record in computed {
        let Some(old) = stored.iter().find(|old| old["SK"] == record["SK"]) else {
            continue;
        };
        for note in AT_RISK_NOTES {
            let same_period = old[note].as_str().is_some() && old[note] == record["breaksAt"];
            if same_period {
                record[note] = old[note].clone();
            }
        }
    }
}

/// What the sweep notes on a run at risk: nudged, or passed over (the member is not live).
const AT_RISK_NOTES: [&str; 2] = ["atRiskSentFor", "atRiskSkippedFor"];

/// A progress record as stored. What the read view restores is left out (`null`s, and
/// `createdAt`, the run's start or the window's), so that a run stays within one write unit
/// (1 KB) with its due entry. A record in progress is listed in the due index under its next
/// clock action, for the sweep: the at-risk moment while the nudge is still to send, else the
/// deadline (a run's `breaksAt`, a window's end). A settled one is not (a put without the
/// attributes removes its entry).
pub(super) fn as_stored(mut record: Value) -> Value {
    if let Some(fields) = record.as_object_mut() {
        fields.retain(|name, value| !value.is_null() && name != "createdAt");
    }
    let streak = record.get("streakProgressStatus").is_some();
    let status = if streak {
        &record["streakProgressStatus"]
    } else {
        &record["challengeProgressStatus"]
    };
    if status != "in_progress" {
        return record;
    }
    let deadline = if streak {
        record["breaksAt"].as_str()
    } else {
        record["taskProgress"]["periodEnd"].as_str()
    };
    let Some(deadline) = deadline.map(str::to_string) else {
        return record;
    };
    let at_risk = record["atRiskAt"]
        .as_str()
        .filter(|at| *at < deadline.as_str())
        .filter(|_| {
            AT_RISK_NOTES
                .iter()
                .all(|note| record[*note].as_str() != Some(deadline.as_str()))
        })
        .map(str::to_string);
    let (Some(pk), Some(sk)) = (record["PK"].as_str(), record["SK"].as_str()) else {
        return record;
    };
    let due_at = at_risk.unwrap_or_else(|| deadline.clone());
    for (name, value) in Store::due_keys(pk, sk, &due_at) {
        record[name] = value.into();
    }
    record["breaksAt"] = deadline.into();
    // The at-risk moment lives on as `dueAt` until it passes; it is not stored twice.
    if let Some(fields) = record.as_object_mut() {
        fields.remove("atRiskAt");
    }
    record
}

pub(super) fn streak_record(
    tenant: &Tenant,
    program: &Program,
    member_id: &str,
    run: &engine::StreakRun,
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
    let mut record = with_keys(
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
            "atRiskAt": opt_time(run.at_risk_at),
            "taskProgress": task_json(&run.task),
            "createdAt": time::format(&run.started_at),
            "updatedAt": time::format(&now),
        }),
    );
    // Freezes are stored only when there are any (reads show zeros): a run of a streak without
    // freezes stays within one write unit.
    for (name, value, any) in [
        (
            "freezesAvailable",
            json!(run.freezes_available),
            run.freezes_available > 0,
        ),
        (
            "freezesUsed",
            json!(run.frozen_periods.len()),
            !run.frozen_periods.is_empty(),
        ),
        (
            "frozenPeriods",
            json!(run.frozen_periods),
            !run.frozen_periods.is_empty(),
        ),
        (
            "freezesEarned",
            json!(run.freezes_earned),
            run.freezes_earned > 0,
        ),
    ] {
        if any {
            record[name] = value;
        }
    }
    record
}

pub(super) fn challenge_record(
    tenant: &Tenant,
    program: &Program,
    member_id: &str,
    w: &engine::ChallengeWindow,
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
            "currentProgressValue": domain::amount::Amount::from(w.value),
            "challengeProgressStatus": status,
            "challengeCompletedAt": opt_time(w.completed_at),
            "challengeFailedAt": opt_time(w.failed_at),
            "taskProgress": task_json(&w.task),
            "createdAt": time::format(&w.task.period_start),
            "updatedAt": time::format(&now),
        }),
    )
}

pub(super) fn reward_record(
    tenant: &Tenant,
    kind: ProgramKind,
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
            "linkedSchemaSlug": kind.slug(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sk: &str, extra: Value) -> Value {
        let mut v = json!({"SK": sk, "updatedAt": "2026-11-24T00:00:00.000Z"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn diff_writes_what_changed_and_deletes_what_is_gone() {
        let stored = vec![
            record("PROGRESS#p#a", json!({"currentProgressValue": 1})),
            record("PROGRESS#p#b", json!({"currentProgressValue": 2})),
        ];
        let mut same_but_bookkeeping = record("PROGRESS#p#a", json!({"currentProgressValue": 1}));
        same_but_bookkeeping["updatedAt"] = json!("2026-12-01T00:00:00.000Z");
        same_but_bookkeeping["ver"] = json!(7);
        let computed = vec![
            same_but_bookkeeping,
            record("PROGRESS#p#c", json!({"currentProgressValue": 3})),
        ];
        let (puts, deletes) = diff(&stored, computed);
        assert_eq!(puts.len(), 1, "only the new record: {puts:?}");
        assert_eq!(puts[0]["SK"], "PROGRESS#p#c");
        assert_eq!(deletes, vec!["PROGRESS#p#b".to_string()]);
        // A value that changed is written.
        let (puts, _) = diff(
            &stored,
            vec![record("PROGRESS#p#a", json!({"currentProgressValue": 5}))],
        );
        assert_eq!(puts.len(), 1);
    }

    #[test]
    fn a_run_that_absorbs_others_keeps_their_rewards() {
        let stored = vec![
            record(
                "PROGRESS#p#r1",
                json!({"runStartDay": "2026-11-20", "rewarded": ["m1"]}),
            ),
            record(
                "PROGRESS#p#r2",
                json!({"runStartDay": "2026-11-23", "rewarded": ["m2"]}),
            ),
        ];
        // A backfill joined both into one run starting on the 20th.
        let mut computed = vec![record(
            "PROGRESS#p#r1",
            json!({"runStartDay": "2026-11-20"}),
        )];
        inherit_rewarded(&stored, &mut computed);
        assert_eq!(computed[0]["rewarded"], json!(["m1", "m2"]));
        // Windows keep their own.
        let stored = vec![record("PROGRESS#c#w1", json!({"rewarded": ["m3"]}))];
        let mut computed = vec![
            record("PROGRESS#c#w1", json!({})),
            record("PROGRESS#c#w2", json!({})),
        ];
        inherit_rewarded(&stored, &mut computed);
        assert_eq!(computed[0]["rewarded"], json!(["m3"]));
        assert!(computed[1].get("rewarded").is_none());
    }

    #[test]
    fn new_windows_counts_joins_and_completions_once() {
        let done = json!({"challengeProgressStatus": "completed"});
        let open = json!({"challengeProgressStatus": "in_progress"});
        let stored = vec![record("w1", open.clone()), record("w2", done.clone())];
        let computed = vec![
            record("w1", done.clone()),
            record("w2", done.clone()),
            record("w3", open),
        ];
        assert_eq!(new_windows(&stored, &computed), (1, 1));
    }

    #[test]
    fn ids_are_deterministic_and_time_ordered() {
        let t1 = domain::time::now();
        let t2 = t1 + chrono::Duration::days(1);
        let a = deterministic_id(t1, &["T#a#live", "streak_progress", "p", "m", "2026-11-24"]);
        assert_eq!(
            a,
            deterministic_id(t1, &["T#a#live", "streak_progress", "p", "m", "2026-11-24"])
        );
        assert_ne!(
            a,
            deterministic_id(t1, &["T#a#live", "streak_progress", "p", "m", "2026-11-25"])
        );
        let later = deterministic_id(t2, &["T#a#live", "streak_progress", "p", "m", "2026-11-24"]);
        assert!(later > a, "newer records sort after older ones");
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 7);
    }
}
