//! Milestones: at most one crossing per milestone and run (streaks) or window (challenges).

use chrono::{DateTime, Utc};
use domain::progress::CountedLog;
use rust_decimal::Decimal;

use crate::challenge::ChallengeRule;
use crate::streak::StreakRun;

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
