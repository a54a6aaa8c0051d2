//! Streaks: runs of consecutive completed periods (SPEC §6).

use chrono::{DateTime, Utc};
use domain::progress::CountedLog;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::aggregation::{Aggregation, TaskProgress};
use crate::freezes::{FreezeGrant, FreezeRule, Holdings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreakStatus {
    InProgress,
    Completed,
    Broken,
}

/// A streak program's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct StreakRule {
    pub aggregation: Aggregation,
    /// `aggregationTargetValue`: a period completes when its value reaches it.
    pub period_target: Decimal,
    /// `completionTargetValue`: completed periods to finish the streak.
    pub completion_target: u32,
    /// `atRiskLeadMinutes`: how long before its end an incomplete period is at risk (zero: off).
    pub at_risk_lead: chrono::Duration,
    pub freezes: FreezeRule,
}

/// One run of consecutive completed periods (one `streak_progress` record).
#[derive(Debug, Clone, PartialEq)]
pub struct StreakRun {
    /// Key of the run's first period: identifies the run.
    pub run_key: String,
    /// The first local day of the run's first period.
    pub start_day: chrono::NaiveDate,
    pub status: StreakStatus,
    /// Completed periods in the run (`currentProgressValue`).
    pub completed_periods: u32,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub broken_at: Option<DateTime<Utc>>,
    /// While in progress: when the run breaks unless the period ending then completes.
    pub breaks_at: Option<DateTime<Utc>>,
    pub task: TaskProgress,
    /// For each completed period in order: its key and when it completed (milestones need them).
    pub completions: Vec<(String, DateTime<Utc>)>,
    /// While in progress: when the awaited period becomes at risk (`breaks_at` less the lead, not
    /// before the period starts); `None` when at-risk is off or the run began after that moment.
    pub at_risk_at: Option<DateTime<Utc>>,
    /// Keys of the periods a freeze kept (`frozenPeriods`), in order.
    pub frozen_periods: Vec<String>,
    /// Freezes the run earned (`freezeEarnEveryPeriods`).
    pub freezes_earned: u32,
    /// Freezes the member holds when the run ended, or now while it is in progress.
    pub freezes_available: u32,
}

/// Every run of a member in a streak, oldest first.
///
/// A run starts at the first period with activity after the previous run ended, and goes on while
/// consecutive periods complete. It is `completed` when `completion_target` periods completed (the
/// next period with activity starts a new run), and `broken` by the first period that ended without
/// completing (`broken_at` = that period's end). Otherwise it is `in_progress`, with `breaks_at` =
/// the end of the period it waits on. A backfilled log that completes a gap's period joins the runs
/// on both sides, because runs are recomputed from the set of logs.
///
/// Freezes (SPEC §10): a period of a run with at least one completed period that ends incomplete
/// while the member holds a freeze (granted or earned before that end) uses one: the period is
/// `frozen` and the run goes on. Grants and earnings are capped at `maxFreezes`. Everything is a
/// function of the sets of logs and grants and of `now`.
pub fn streak_runs(
    rule: &StreakRule,
    logs: &[CountedLog],
    grants: &[FreezeGrant],
    now: DateTime<Utc>,
) -> Vec<StreakRun> {
    let agg = &rule.aggregation;
    let mut holdings = Holdings::new(rule.freezes, grants);
    let periods = agg.group(logs);
    let target = rule.period_target;
    let mut runs = Vec::new();
    let mut next_start = periods.keys().next().copied();
    while let Some(start_day) = next_start {
        let Some(first) = periods.get(&start_day) else {
            break;
        };
        let mut run = StreakRun {
            run_key: first.period.key(),
            start_day: first.period.first_day,
            status: StreakStatus::InProgress,
            completed_periods: 0,
            started_at: first
                .logs
                .first()
                .map(|l| l.activity_at)
                .unwrap_or_else(|| first.period.start()),
            completed_at: None,
            broken_at: None,
            breaks_at: None,
            task: TaskProgress::of(&first.period, Decimal::ZERO, target),
            completions: Vec::new(),
            at_risk_at: None,
            frozen_periods: Vec::new(),
            freezes_earned: 0,
            freezes_available: 0,
        };
        let mut current = first.period.clone();
        loop {
            let logs = periods
                .get(&current.first_day)
                .map(|p| p.logs.as_slice())
                .unwrap_or(&[]);
            let value = agg.total(logs);
            if let Some(done_at) = agg.reached_at(logs, target) {
                run.completed_periods += 1;
                run.completions.push((current.key(), done_at));
                run.task = TaskProgress::of(&current, value, target);
                holdings.take_grants_before(done_at);
                if holdings.earn_after(run.completed_periods) {
                    run.freezes_earned += 1;
                }
                if run.completed_periods >= rule.completion_target {
                    run.status = StreakStatus::Completed;
                    run.completed_at = Some(done_at);
                    run.freezes_available = holdings.held;
                    break;
                }
                current = current.next();
                continue;
            }
            let later_activity = periods
                .range(current.first_day.succ_opt().unwrap_or(current.first_day)..)
                .next()
                .is_some();
            if current.end() <= now || later_activity {
                holdings.take_grants_before(current.end());
                if run.completed_periods > 0 && holdings.consume() {
                    run.frozen_periods.push(current.key());
                    current = current.next();
                    continue;
                }
                run.status = StreakStatus::Broken;
                run.broken_at = Some(current.end());
                run.task = TaskProgress::of(&current, value, target);
                run.freezes_available = holdings.held;
            } else {
                run.breaks_at = Some(current.end());
                // Before the awaited period begins, the period just completed is the current one.
                if now >= current.start() || run.completed_periods == 0 {
                    run.task = TaskProgress::of(&current, value, target);
                }
                let at_risk = (current.end() - rule.at_risk_lead).max(current.start());
                run.at_risk_at = (rule.at_risk_lead > chrono::Duration::zero()
                    && at_risk >= run.started_at)
                    .then_some(at_risk);
                // What the member holds now (a grant may be dated a moment ahead).
                holdings.take_grants_before(now + chrono::Duration::milliseconds(1));
                run.freezes_available = holdings.held;
            }
            break;
        }
        next_start = periods
            .range(current.first_day.succ_opt().unwrap_or(current.first_day)..)
            .next()
            .map(|(d, _)| *d);
        runs.push(run);
    }
    runs
}

impl StreakRun {
    /// The run as read at `now`: an in-progress run whose awaited period has ended reads `broken`,
    /// with no log needed (SPEC §6, reads reflect the clock), unless a freeze may keep it (the
    /// sweep decides within a minute).
    pub fn as_of(&self, now: DateTime<Utc>) -> StreakRun {
        let mut run = self.clone();
        if let (StreakStatus::InProgress, Some(deadline)) = (run.status, run.breaks_at) {
            if deadline <= now && run.freezes_available == 0 {
                run.status = StreakStatus::Broken;
                run.broken_at = Some(deadline);
                run.breaks_at = None;
            }
        }
        run
    }
}
