//! The progress engine (SPEC §6) as pure functions of (rules, counted logs, now).
//!
//! Progress depends only on the *set* of counted logs: logs are de-duplicated by id and ordered by
//! (`activityAt`, id) before anything is computed, so arrival order and duplicates cannot matter.
//! The stream processor (next step) feeds these functions the logs of the periods it needs.

pub mod period;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use period::{Period, PeriodKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AggregationMethod {
    Sum,
    Count,
}

/// One log that counts toward progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedLog {
    /// Unique per program and member (the log id); ties in `activity_at` are ordered by it.
    pub id: String,
    pub activity_at: DateTime<Utc>,
    /// `activityValue`; ignored by `count`.
    pub value: Decimal,
}

/// What the engine needs of a program: how logs fold into periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub method: AggregationMethod,
    pub period: PeriodKind,
    /// The member's zone if set, else the program's.
    pub tz: Tz,
}

/// A period with the logs that fell in it, in order.
#[derive(Debug, Clone)]
struct PeriodLogs<'a> {
    period: Period,
    logs: Vec<&'a CountedLog>,
}

impl Aggregation {
    fn contribution(&self, log: &CountedLog) -> Decimal {
        match self.method {
            AggregationMethod::Sum => log.value,
            AggregationMethod::Count => Decimal::ONE,
        }
    }

    /// Unique logs grouped by period, periods and logs in time order.
    fn group<'a>(&self, logs: &'a [CountedLog]) -> BTreeMap<chrono::NaiveDate, PeriodLogs<'a>> {
        let mut unique: BTreeMap<(DateTime<Utc>, &str), &CountedLog> = BTreeMap::new();
        for log in logs {
            unique
                .entry((log.activity_at, log.id.as_str()))
                .or_insert(log);
        }
        let mut seen_ids = std::collections::HashSet::new();
        let mut periods: BTreeMap<chrono::NaiveDate, PeriodLogs<'a>> = BTreeMap::new();
        for log in unique.into_values() {
            // The same id twice (a replay with another timestamp cannot happen: logs are immutable)
            // is still counted once.
            if !seen_ids.insert(log.id.as_str()) {
                continue;
            }
            let period = Period::containing(self.period, self.tz, log.activity_at);
            periods
                .entry(period.first_day)
                .or_insert_with(|| PeriodLogs {
                    period,
                    logs: Vec::new(),
                })
                .logs
                .push(log);
        }
        periods
    }

    fn total(&self, logs: &[&CountedLog]) -> Decimal {
        logs.iter().map(|l| self.contribution(l)).sum()
    }

    /// The `activityAt` of the log whose contribution first brings the running total to `target`.
    fn reached_at(&self, logs: &[&CountedLog], target: Decimal) -> Option<DateTime<Utc>> {
        let mut total = Decimal::ZERO;
        for log in logs {
            total += self.contribution(log);
            if total >= target {
                return Some(log.activity_at);
            }
        }
        None
    }
}

/// The period a progress record is working on (`taskProgress`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgress {
    pub period_key: String,
    #[serde(with = "crate::time::rfc3339_ms")]
    pub period_start: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339_ms")]
    pub period_end: DateTime<Utc>,
    #[serde(serialize_with = "crate::amount::as_number")]
    pub current_value: Decimal,
    #[serde(serialize_with = "crate::amount::as_number")]
    pub target_value: Decimal,
}

impl TaskProgress {
    fn of(period: &Period, value: Decimal, target: Decimal) -> Self {
        TaskProgress {
            period_key: period.key(),
            period_start: period.start(),
            period_end: period.end(),
            current_value: value,
            target_value: target,
        }
    }
}

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
}

/// Every run of a member in a streak, oldest first.
///
/// A run starts at the first period with activity after the previous run ended, and goes on while
/// consecutive periods complete. It is `completed` when `completion_target` periods completed (the
/// next period with activity starts a new run), and `broken` by the first period that ended without
/// completing (`broken_at` = that period's end). Otherwise it is `in_progress`, with `breaks_at` =
/// the end of the period it waits on. A backfilled log that completes a gap's period joins the runs
/// on both sides, because runs are recomputed from the set of logs.
pub fn streak_runs(rule: &StreakRule, logs: &[CountedLog], now: DateTime<Utc>) -> Vec<StreakRun> {
    let agg = &rule.aggregation;
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
                if run.completed_periods >= rule.completion_target {
                    run.status = StreakStatus::Completed;
                    run.completed_at = Some(done_at);
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
                run.status = StreakStatus::Broken;
                run.broken_at = Some(current.end());
                run.task = TaskProgress::of(&current, value, target);
            } else {
                run.breaks_at = Some(current.end());
                // Before the awaited period begins, the period just completed is the current one.
                if now >= current.start() || run.completed_periods == 0 {
                    run.task = TaskProgress::of(&current, value, target);
                }
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
    /// with no log needed (SPEC §6, reads reflect the clock).
    pub fn as_of(&self, now: DateTime<Utc>) -> StreakRun {
        let mut run = self.clone();
        if let (StreakStatus::InProgress, Some(deadline)) = (run.status, run.breaks_at) {
            if deadline <= now {
                run.status = StreakStatus::Broken;
                run.broken_at = Some(deadline);
                run.breaks_at = None;
            }
        }
        run
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeStatus {
    InProgress,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeRule {
    pub aggregation: Aggregation,
    /// `completionTargetValue`: the value to reach within one window.
    pub target: Decimal,
}

/// One window of a challenge for one member (one `challenge_progress` record).
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeWindow {
    pub window_key: String,
    pub status: ChallengeStatus,
    pub value: Decimal,
    pub completed_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub task: TaskProgress,
}

/// Every window with activity, oldest first: `completed` when the value reached the target
/// (at the completing log), `failed` once the window ended below it, else `in_progress`.
pub fn challenge_windows(
    rule: &ChallengeRule,
    logs: &[CountedLog],
    now: DateTime<Utc>,
) -> Vec<ChallengeWindow> {
    let agg = &rule.aggregation;
    agg.group(logs)
        .into_values()
        .map(|p| {
            let value = agg.total(&p.logs);
            let window = ChallengeWindow {
                window_key: p.period.key(),
                status: ChallengeStatus::InProgress,
                value,
                completed_at: agg.reached_at(&p.logs, rule.target),
                failed_at: None,
                task: TaskProgress::of(&p.period, value, rule.target),
            };
            window.as_of(now)
        })
        .collect()
}

impl ChallengeWindow {
    pub fn as_of(&self, now: DateTime<Utc>) -> ChallengeWindow {
        let mut w = self.clone();
        w.failed_at = None;
        w.status = if w.completed_at.is_some() {
            ChallengeStatus::Completed
        } else if w.task.period_end <= now {
            w.failed_at = Some(w.task.period_end);
            ChallengeStatus::Failed
        } else {
            ChallengeStatus::InProgress
        };
        w
    }
}

/// A live milestone of a program.
#[derive(Debug, Clone, PartialEq)]
pub struct MilestoneRule {
    pub id: String,
    pub target: Decimal,
}

/// A milestone reached: at most one per (milestone, run or window).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Crossing {
    pub milestone_id: String,
    /// The run's or window's key.
    pub progress_key: String,
    /// The period in which the milestone was reached.
    pub period_key: String,
    pub reached_at: DateTime<Utc>,
}

/// Streak milestones count completed periods of a run.
pub fn streak_crossings(runs: &[StreakRun], milestones: &[MilestoneRule]) -> Vec<Crossing> {
    let mut out = Vec::new();
    for run in runs {
        for m in milestones {
            // The n-th completion reaches a target of n (targets need not be whole numbers).
            let reached = run
                .completions
                .iter()
                .enumerate()
                .find(|(i, _)| Decimal::from(*i as u64 + 1) >= m.target);
            if let Some((_, (period_key, at))) = reached {
                out.push(Crossing {
                    milestone_id: m.id.clone(),
                    progress_key: run.run_key.clone(),
                    period_key: period_key.clone(),
                    reached_at: *at,
                });
            }
        }
    }
    out.sort();
    out
}

/// Challenge milestones compare the window's value.
pub fn challenge_crossings(
    rule: &ChallengeRule,
    logs: &[CountedLog],
    milestones: &[MilestoneRule],
) -> Vec<Crossing> {
    let agg = &rule.aggregation;
    let mut out = Vec::new();
    for p in agg.group(logs).into_values() {
        for m in milestones {
            if let Some(at) = agg.reached_at(&p.logs, m.target) {
                out.push(Crossing {
                    milestone_id: m.id.clone(),
                    progress_key: p.period.key(),
                    period_key: p.period.key(),
                    reached_at: at,
                });
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests;
