//! Deadlines (SPEC §10): the due index (GSI3) the clock's sweep reads (progress records whose
//! deadline passed, boards whose period settled), settling a progress record, and the sweep's
//! checkpoint.

use aws_sdk_dynamodb::types::AttributeValue;

use domain::time::{self, Timestamp};

use super::codec::s;
use super::error::{applied, classify, StoreError};
use super::layout::{BOARD_SK, GSI3, LIST_SHARDS};
use super::*;

/// A progress record in progress whose next clock action is due, as the due index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRecord {
    pub pk: String,
    pub sk: String,
    /// RFC 3339 UTC, as stored on the record: the action's moment (`dueAt`) and the deadline
    /// (`breaksAt`; before it, `dueAt` is the at-risk moment).
    pub due_at: String,
    pub deadline: String,
    pub kind: DueKind,
    /// Freezes the member held when the record was written (streaks).
    pub freezes_available: u64,
    pub owned_by_id: Option<String>,
    pub streak_id: Option<String>,
}

impl DueRecord {
    /// Whether the action due is the at-risk nudge (the deadline is still ahead).
    pub fn is_at_risk(&self) -> bool {
        self.kind == DueKind::StreakRun && self.due_at < self.deadline
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    /// A streak run: at risk at `dueAt` before its deadline, `broken` (or kept by a freeze) at
    /// `breaksAt`.
    StreakRun,
    /// A challenge window: it becomes `failed` at its period's end.
    ChallengeWindow,
    /// A leaderboard whose period settled: its end is announced (`leaderboard.finished`).
    BoardPeriod,
}

/// The hour buckets of the due index (`DUE#{hour}#{shard}`) are the deadline's first 13
/// characters (`2026-12-04T23`).
pub fn due_hour(t: &Timestamp) -> String {
    time::format(t)[..13].to_string()
}

const CHECKPOINT_PK: &str = "CLOCK";
const CHECKPOINT_SK: &str = "SWEEP";

impl Store {
    /// Shards of the due index (as many as the tenant lists').
    pub const DUE_SHARDS: usize = LIST_SHARDS;

    /// Up to `limit` records of one hour and shard of the due index whose next action is due at
    /// `now` or earlier, earliest first.
    pub async fn due_records(
        &self,
        hour: &str,
        shard: usize,
        now: &Timestamp,
        limit: usize,
    ) -> Result<Vec<DueRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI3)
            .key_condition_expression("GSI3PK = :pk AND dueAt <= :now")
            .expression_attribute_values(":pk", s(format!("DUE#{hour}#{shard}")))
            // Every entry of this instant or earlier sorts before `{now}$`.
            .expression_attribute_values(":now", s(format!("{}$", time::format(now))))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(classify)?;
        let text = |item: &Item, name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let kind = if item.contains_key("streakProgressStatus") {
                    DueKind::StreakRun
                } else if item.contains_key("challengeProgressStatus") {
                    DueKind::ChallengeWindow
                } else if text(item, "SK").as_deref() == Some(BOARD_SK) {
                    // The index projects no board attributes: the sweep reads the board.
                    DueKind::BoardPeriod
                } else {
                    return None;
                };
                let due_at = text(item, "dueAt")?;
                let freezes_available = match item.get("freezesAvailable") {
                    Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                    _ => 0,
                };
                Some(DueRecord {
                    pk: text(item, "PK")?,
                    sk: text(item, "SK")?,
                    deadline: text(item, "breaksAt").unwrap_or_else(|| due_at.clone()),
                    due_at,
                    kind,
                    freezes_available,
                    owned_by_id: text(item, "ownedById"),
                    streak_id: text(item, "streakId"),
                })
            })
            .collect())
    }

    /// Stores what the clock decided for `due` when no freeze can keep it: a run `broken` at its
    /// deadline, a window `failed`; it leaves the due index, and its `ver` moves so that a commit
    /// of the stream processor that read it before fails and recomputes. `false` if the record is
    /// no longer in progress with this deadline, or holds a freeze now (settled by another sweep,
    /// extended by a log, given a freeze, deleted): exactly one write changes the state, whatever
    /// the sweeps and logs racing it.
    pub async fn settle_due(&self, due: &DueRecord, now: &Timestamp) -> Result<bool, StoreError> {
        let (status, settled_at, outcome) = match due.kind {
            DueKind::StreakRun => ("streakProgressStatus", "streakBrokenAt", "broken"),
            DueKind::ChallengeWindow => ("challengeProgressStatus", "challengeFailedAt", "failed"),
            // A board is announced by `finish_board_period`, never settled here.
            DueKind::BoardPeriod => return Ok(false),
        };
        let result = self
            .update_due(due)
            .update_expression(format!(
                "SET {status} = :outcome, {settled_at} = :deadline, updatedAt = :now \
                 ADD ver :one REMOVE GSI3PK, dueAt"
            ))
            .condition_expression(format!(
                "{status} = :in_progress AND breaksAt = :deadline \
                 AND (attribute_not_exists(freezesAvailable) OR freezesAvailable = :zero)"
            ))
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":deadline", s(&due.deadline))
            .expression_attribute_values(":now", s(time::format(now)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// Notes that the run of `due` was at risk for the period ending at its deadline (SPEC §10):
    /// `atRiskSentFor` names the deadline (`atRiskSkippedFor` when the member is not live: no
    /// nudge), the entry moves to the deadline itself, `ver` moves. The stream carries the change
    /// to `streak_progress.at_risk`, once: `false` if the run no longer waits on that period at
    /// that moment (a log completed it, another sweep noted it).
    pub async fn mark_at_risk(
        &self,
        due: &DueRecord,
        now: &Timestamp,
        notify: bool,
    ) -> Result<bool, StoreError> {
        let [(_, gsi3pk), _] = Store::due_keys(&due.pk, &due.sk, &due.deadline);
        let note = if notify {
            "atRiskSentFor"
        } else {
            "atRiskSkippedFor"
        };
        let result = self
            .update_due(due)
            .update_expression(format!(
                "SET {note} = :deadline, dueAt = :deadline, GSI3PK = :gsi3pk, \
                 updatedAt = :now ADD ver :one"
            ))
            .condition_expression(
                "streakProgressStatus = :in_progress AND breaksAt = :deadline AND dueAt = :due",
            )
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":deadline", s(&due.deadline))
            .expression_attribute_values(":due", s(&due.due_at))
            .expression_attribute_values(":gsi3pk", s(gsi3pk))
            .expression_attribute_values(":now", s(time::format(now)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// An UpdateItem of the record behind `due`.
    fn update_due(
        &self,
        due: &DueRecord,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(&due.pk))
            .key("SK", s(&due.sk))
    }

    /// The first hour of the due index that may still hold entries (`None`: never swept).
    pub async fn sweep_checkpoint(&self) -> Result<Option<String>, StoreError> {
        let item = self.get(CHECKPOINT_PK.into(), CHECKPOINT_SK, true).await?;
        Ok(item.and_then(|i| match i.get("sweptBefore") {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        }))
    }

    /// Moves the checkpoint from `seen` to `hour` (never back); a concurrent sweep that moved it
    /// first wins.
    pub async fn advance_sweep_checkpoint(
        &self,
        seen: Option<&str>,
        hour: &str,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(CHECKPOINT_PK))
            .item("SK", s(CHECKPOINT_SK))
            .item("sweptBefore", s(hour));
        let update = match seen {
            Some(seen) if hour <= seen => return Ok(()),
            Some(seen) => update
                .condition_expression("sweptBefore = :seen")
                .expression_attribute_values(":seen", s(seen)),
            None => update.condition_expression("attribute_not_exists(PK)"),
        };
        applied(update.send().await.map_err(classify)).map(|_| ())
    }
}
