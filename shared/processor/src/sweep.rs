//! The clock's sweep (SPEC §10): stores what the clock decides. A streak run whose period ended
//! incomplete becomes `broken` at its deadline (or, if the member holds a freeze, the engine
//! recomputes it: the period is frozen and the run goes on), a challenge window that ended below
//! target `failed`, and a run still incomplete `atRiskLeadMinutes` before its deadline is noted
//! at risk, and a leaderboard's period that settled is announced with its top 10
//! (`leaderboard.finished`); the table's stream then carries each change to webhook delivery like any other. It
//! reads only the due index's hours that have passed since the last sweep (`Store::due_records`),
//! so its cost follows what is due, never all records; each settle is one conditional write, so
//! overlapping sweeps, retries and logs racing it change a record's state once.

use chrono::Duration;
use futures_util::StreamExt;

use domain::member::MemberStatus;
use domain::time::Timestamp;
use store::{due_hour, DueKind, DueRecord, Store, StoreError};

use crate::group::{process_group, Group};
use crate::programs::Programs;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Records this sweep settled.
    pub settled: usize,
    /// Due entries another writer got to first (a sweep, a log that moved the deadline).
    pub raced: usize,
}

/// How far back a table never swept (or swept long ago) is read; older deadlines are still
/// applied when records are read (SPEC §6), just not stored.
const LOOKBACK_HOURS: i64 = 48;
/// Due entries read at a time per shard, and settled at once.
const PAGE: usize = 100;
const SETTLES_AT_ONCE: usize = 16;

/// Settles every record of the due index whose deadline is `now` or earlier.
pub async fn sweep(store: &Store, now: Timestamp) -> Result<SweepReport, StoreError> {
    let current = due_hour(&now);
    let checkpoint = store.sweep_checkpoint().await?;
    let oldest = due_hour(&(now - Duration::hours(LOOKBACK_HOURS)));
    // A checkpoint ahead of this sweep's clock (another sweep's clock ran fast) is not trusted.
    let from = checkpoint
        .clone()
        .filter(|c| *c > oldest && *c <= current)
        .unwrap_or(oldest);
    let mut report = SweepReport::default();
    let mut left_in_the_past = false;
    let programs = Programs::default();
    for hour in hours(&from, &current) {
        let shards = futures_util::future::join_all(
            (0..Store::DUE_SHARDS).map(|shard| sweep_shard(store, &programs, &hour, shard, now)),
        )
        .await;
        for shard in shards {
            let (settled, raced, left) = shard?;
            report.settled += settled;
            report.raced += raced;
            left_in_the_past |= left && hour < current;
        }
    }
    // Hours before this one are done once nothing is left in them: later sweeps start here.
    if !left_in_the_past {
        store
            .advance_sweep_checkpoint(checkpoint.as_deref(), &current)
            .await?;
    }
    Ok(report)
}

/// One shard of one hour: settled, raced, and whether entries were left (seen but not settled:
/// the index lags the table by a moment; the next sweep sees them gone or settles them).
async fn sweep_shard(
    store: &Store,
    programs: &Programs,
    hour: &str,
    shard: usize,
    now: Timestamp,
) -> Result<(usize, usize, bool), StoreError> {
    let (mut settled, mut raced) = (0, 0);
    loop {
        let due = store.due_records(hour, shard, &now, PAGE).await?;
        if due.is_empty() {
            return Ok((settled, raced, false));
        }
        // Owned entries: the futures stay `Send` for a spawned task.
        let outcomes: Vec<Result<bool, StoreError>> = futures_util::stream::iter(due)
            .map(|d| async move { act(store, programs, &d, now).await })
            .buffer_unordered(SETTLES_AT_ONCE)
            .collect()
            .await;
        let mut progressed = false;
        for outcome in outcomes {
            if outcome? {
                settled += 1;
                progressed = true;
            } else {
                raced += 1;
            }
        }
        if !progressed {
            return Ok((settled, raced, true));
        }
    }
}

/// Does what is due for one entry; `false` if another writer got to it first (or it must wait).
async fn act(
    store: &Store,
    programs: &Programs,
    due: &DueRecord,
    now: Timestamp,
) -> Result<bool, StoreError> {
    if due.kind == DueKind::BoardPeriod {
        return crate::boards::announce_finished(store, due, now).await;
    }
    let needs_member = due.is_at_risk() || due.freezes_available > 0;
    if due.kind == DueKind::ChallengeWindow || !needs_member {
        return store.settle_due(due, &now).await;
    }
    let (Ok(tenant), Some(member_id), Some(streak_id)) = (
        store::tenant_of_key(&due.pk),
        due.owned_by_id.as_deref(),
        due.streak_id.as_deref(),
    ) else {
        return store.settle_due(due, &now).await;
    };
    // A member deleted meanwhile: the deletion cascade removes the record.
    let Some(member) = store.member_by_id(&tenant, member_id).await? else {
        return Ok(false);
    };
    if due.is_at_risk() {
        // Only a live member is nudged (SPEC §10); the moment is passed either way.
        let notify = member.status == MemberStatus::Live;
        return store.mark_at_risk(due, &now, notify).await;
    }
    // A freeze may keep the run: the engine decides, as it would for a log.
    let group = Group {
        tenant: &tenant,
        program_id: streak_id,
        events: Vec::new(),
    };
    Ok(process_group(store, programs, &member, group, now)
        .await?
        .committed)
}

/// The due index's hours from `from` to `to` (`YYYY-MM-DDTHH`, both included).
fn hours(from: &str, to: &str) -> Vec<String> {
    let parse =
        |h: &str| chrono::NaiveDateTime::parse_from_str(&format!("{h}:00"), "%Y-%m-%dT%H:%M");
    let (Ok(mut at), Ok(end)) = (parse(from), parse(to)) else {
        return vec![to.to_string()];
    };
    let mut out = Vec::new();
    while at <= end {
        out.push(at.format("%Y-%m-%dT%H").to_string());
        at += Duration::hours(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_run_from_the_checkpoint_to_now_across_days() {
        assert_eq!(
            hours("2026-12-31T22", "2027-01-01T01"),
            [
                "2026-12-31T22",
                "2026-12-31T23",
                "2027-01-01T00",
                "2027-01-01T01"
            ]
        );
        assert_eq!(hours("2026-12-04T10", "2026-12-04T10"), ["2026-12-04T10"]);
        assert!(hours("2026-12-04T11", "2026-12-04T10").is_empty());
        assert_eq!(hours("garbage", "2026-12-04T10"), ["2026-12-04T10"]);
    }
}
