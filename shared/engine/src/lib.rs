//! The progress engine (SPEC §6) as pure functions of (rules, counted logs, now).
//!
//! Progress depends only on the *set* of counted logs: logs are de-duplicated by id and ordered by
//! (`activityAt`, id) before anything is computed, so arrival order and duplicates cannot matter.
//! The stream processor feeds these functions the logs of the periods it needs. The engine is its
//! own crate so that changing it rebuilds only what computes progress (ARCHITECTURE.md).

mod aggregation;
mod challenge;
mod freezes;
mod milestone;
pub mod period;
mod streak;

pub use aggregation::{Aggregation, TaskProgress};
pub use challenge::{challenge_windows, ChallengeRule, ChallengeStatus, ChallengeWindow};
pub use domain::progress::{AggregationMethod, CountedLog, PeriodKind};
pub use freezes::{FreezeGrant, FreezeRule};
pub use milestone::{challenge_crossings, streak_crossings, Crossing, MilestoneRule};
pub use period::{BoardSpan, Period};
pub use streak::{streak_runs, StreakRule, StreakRun, StreakStatus};

#[cfg(test)]
mod tests;
