//! Challenges: a target to reach within one period window (SPEC §6).

use chrono::{DateTime, Utc};
use domain::progress::CountedLog;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::aggregation::{Aggregation, TaskProgress};

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
