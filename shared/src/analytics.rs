//! Engagement analytics (SPEC §7) as pure functions of compact stored counters and `now`.
//!
//! The stream processor (next issues) keeps `ActivityStats` on the member: per-UTC-day buckets of
//! counted logs and reward points for the last 31 days plus lifetime counters. Windows are evaluated
//! here against `now`, so the numbers age correctly without any write.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::time::{self, Timestamp};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityStats {
    /// All logs of the member, counted or not.
    pub total_events: u64,
    /// Counted logs.
    pub total_plays: u64,
    /// Counted logs per UTC day (`activityAt`), only the recent days are kept.
    pub plays_by_day: BTreeMap<NaiveDate, u64>,
    /// `rewardPoints` of rewards per UTC day of issue.
    pub points_by_day: BTreeMap<NaiveDate, f64>,
    /// Distinct streaks and challenges with progress.
    pub campaigns_joined: u64,
    pub challenge_windows_joined: u64,
    pub challenge_windows_completed: u64,
    #[serde(with = "time::rfc3339_ms::option", default)]
    pub last_counted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngagementTier {
    Casual,
    Regular,
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    New,
    Active,
    AtRisk,
    Churned,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    pub total_events: u64,
    pub total_plays: u64,
    pub plays7d: u64,
    pub plays30d: u64,
    pub points_earned7d: f64,
    pub points_earned30d: f64,
    pub campaigns_joined: u64,
    pub win_rate: f64,
    pub engagement_score: u32,
    pub engagement_tier: EngagementTier,
    pub lifecycle_stage: LifecycleStage,
}

/// Days in the window "the last N days": today and the N − 1 UTC days before it.
fn in_last_days(day: NaiveDate, today: NaiveDate, n: i64) -> bool {
    let age = (today - day).num_days();
    (0..n).contains(&age)
}

pub fn engagement_score(active_days7: u64, active_days30: u64) -> u32 {
    let score = 100.0 * (0.5 * active_days7 as f64 / 7.0 + 0.5 * active_days30 as f64 / 30.0);
    score.round().clamp(0.0, 100.0) as u32
}

pub fn engagement_tier(score: u32) -> EngagementTier {
    match score {
        0..=24 => EngagementTier::Casual,
        25..=59 => EngagementTier::Regular,
        _ => EngagementTier::Power,
    }
}

pub fn lifecycle_stage(
    first_seen_at: Timestamp,
    last_counted_at: Option<Timestamp>,
    now: Timestamp,
) -> LifecycleStage {
    if now - first_seen_at < Duration::days(7) {
        return LifecycleStage::New;
    }
    match last_counted_at.map(|t| now - t) {
        Some(age) if age <= Duration::days(7) => LifecycleStage::Active,
        Some(age) if age <= Duration::days(30) => LifecycleStage::AtRisk,
        _ => LifecycleStage::Churned,
    }
}

/// Two decimals, 0 when no window was joined.
pub fn win_rate(joined: u64, completed: u64) -> f64 {
    if joined == 0 {
        return 0.0;
    }
    (completed as f64 / joined as f64 * 100.0).round() / 100.0
}

impl Analytics {
    pub fn compute(
        stats: Option<&ActivityStats>,
        first_seen_at: Timestamp,
        now: Timestamp,
    ) -> Self {
        let empty = ActivityStats::default();
        let stats = stats.unwrap_or(&empty);
        let today = now.date_naive();
        let sum_plays = |n| {
            stats
                .plays_by_day
                .iter()
                .filter(|(d, c)| **c > 0 && in_last_days(**d, today, n))
                .fold((0u64, 0u64), |(plays, days), (_, c)| (plays + c, days + 1))
        };
        let sum_points = |n| {
            stats
                .points_by_day
                .iter()
                .filter(|(d, _)| in_last_days(**d, today, n))
                // A fold from +0.0: `Sum for f64` starts at -0.0, which would print as `-0.0`.
                .fold(0.0, |acc, (_, p)| acc + p)
        };
        let (plays7d, active7) = sum_plays(7);
        let (plays30d, active30) = sum_plays(30);
        let score = engagement_score(active7, active30);
        Analytics {
            total_events: stats.total_events,
            total_plays: stats.total_plays,
            plays7d,
            plays30d,
            points_earned7d: sum_points(7),
            points_earned30d: sum_points(30),
            campaigns_joined: stats.campaigns_joined,
            win_rate: win_rate(
                stats.challenge_windows_joined,
                stats.challenge_windows_completed,
            ),
            engagement_score: score,
            engagement_tier: engagement_tier(score),
            lifecycle_stage: lifecycle_stage(first_seen_at, stats.last_counted_at, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_member_without_activity_is_new_then_churned() {
        let first = at(2026, 11, 1);
        let a = Analytics::compute(None, first, at(2026, 11, 3));
        assert_eq!(a.lifecycle_stage, LifecycleStage::New);
        assert_eq!(a.engagement_tier, EngagementTier::Casual);
        assert_eq!((a.engagement_score, a.total_plays, a.win_rate), (0, 0, 0.0));
        let later = Analytics::compute(None, first, at(2026, 11, 20));
        assert_eq!(later.lifecycle_stage, LifecycleStage::Churned);
    }

    #[test]
    fn score_and_tier_boundaries() {
        assert_eq!(engagement_score(0, 0), 0);
        assert_eq!(engagement_score(7, 30), 100);
        assert_eq!(engagement_tier(24), EngagementTier::Casual);
        assert_eq!(engagement_tier(25), EngagementTier::Regular);
        assert_eq!(engagement_tier(59), EngagementTier::Regular);
        assert_eq!(engagement_tier(60), EngagementTier::Power);
        assert_eq!(win_rate(3, 1), 0.33);
        assert_eq!(win_rate(0, 0), 0.0);
    }

    #[test]
    fn windows_by_utc_day() {
        let now = at(2026, 11, 24);
        let stats = ActivityStats {
            total_events: 4,
            total_plays: 3,
            plays_by_day: BTreeMap::from([
                (NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(), 1), // 6 days ago: in 7d
                (NaiveDate::from_ymd_opt(2026, 11, 17).unwrap(), 1), // 7 days ago: only in 30d
                (NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(), 1), // 30 days ago: outside 30d
            ]),
            last_counted_at: Some(at(2026, 11, 18)),
            ..Default::default()
        };
        let a = Analytics::compute(Some(&stats), at(2026, 1, 1), now);
        assert_eq!((a.plays7d, a.plays30d), (1, 2));
        assert_eq!(a.engagement_score, engagement_score(1, 2));
        assert_eq!(a.lifecycle_stage, LifecycleStage::Active);
    }
}
