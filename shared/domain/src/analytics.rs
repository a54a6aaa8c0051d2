//! Engagement analytics (SPEC §7) as pure functions of compact stored counters and `now`.
//!
//! The stream processor folds each batch into `ActivityStats`, kept on the member item (so a member
//! read stays one read): per-UTC-day buckets of counted logs and reward points for the last 30 days,
//! lifetime counters, per-program challenge window counters, and the ids applied recently (a
//! replayed batch changes nothing). Windows are evaluated here against the reader's `now`, so the
//! numbers age correctly without any write.
//!
//! Day windows: "the last N days" are the UTC day of `now` and the N − 1 days before it, so
//! `activeDaysN ≤ N`. Lifecycle counts whole UTC days since the last counted log: 0–7 `active`,
//! 8–30 `at_risk`, more `churned` (SPEC's "8–30 days ago").

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::amount::Amount;
use crate::time::{self, Timestamp};

/// Days of buckets kept and read: the widest window of SPEC §7.
pub const WINDOW_DAYS: i64 = 30;

/// How long an applied id is remembered. A stream record is only delivered while it is in the
/// stream (24 hours of retention; the template also drops records older than an hour), so a
/// duplicate of a log always arrives within this horizon of the log's creation.
pub const REPLAY_HORIZON: Duration = Duration::hours(24);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActivityStats {
    /// All logs of the member, counted or not.
    pub total_events: u64,
    /// Counted logs.
    pub total_plays: u64,
    /// Counted logs per UTC day of `activityAt`; only the last `WINDOW_DAYS` days are kept.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plays_by_day: BTreeMap<NaiveDate, u64>,
    /// `rewardPoints` of rewards per UTC day the milestone was reached; last `WINDOW_DAYS` days.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub points_by_day: BTreeMap<NaiveDate, Amount>,
    /// Streaks and challenges with progress, by program id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub campaigns: BTreeMap<String, Campaign>,
    #[serde(with = "time::rfc3339_ms::option")]
    pub last_counted_at: Option<Timestamp>,
    /// Short digests of the log and reward ids applied, with their creation time (Unix seconds).
    /// Stored by creation hour, a string of digests per hour: the item stays small (every write
    /// of the member costs its size) at the price of keeping an id up to an hour longer.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", with = "applied_by_hour")]
    pub applied: BTreeMap<String, i64>,
}

/// The stored form of `ActivityStats::applied`: `{hour since the epoch: digests, concatenated}`.
/// An id read back is taken as created at the end of its hour, so it is never pruned early.
mod applied_by_hour {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    const HOUR: i64 = 3600;

    pub fn serialize<S: Serializer>(
        applied: &BTreeMap<String, i64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut hours: BTreeMap<String, String> = BTreeMap::new();
        for (digest, created) in applied {
            hours
                .entry(created.div_euclid(HOUR).to_string())
                .or_default()
                .push_str(digest);
        }
        hours.serialize(s)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        /// `{hour: digests}`.
        Digests(String),
        /// The earlier form, `{digest: created}`.
        Created(i64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
        let mut applied = BTreeMap::new();
        for (key, value) in BTreeMap::<String, Stored>::deserialize(d)? {
            match value {
                Stored::Created(created) => {
                    applied.insert(key, created);
                }
                Stored::Digests(digests) => {
                    let hour: i64 = key.parse().map_err(serde::de::Error::custom)?;
                    let end_of_hour = hour * HOUR + HOUR - 1;
                    let bytes = digests.as_bytes();
                    for chunk in bytes.chunks(super::DIGEST_CHARS) {
                        let digest =
                            std::str::from_utf8(chunk).map_err(serde::de::Error::custom)?;
                        applied.insert(digest.to_string(), end_of_hour);
                    }
                }
            }
        }
        Ok(applied)
    }
}

/// A member's standing in one program, as of the processor's `version` for it.
/// Stored with one-letter names, counters left out when 0 (a streak's always are): a member has
/// one per program it takes part in, on an item whose size every write pays for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Campaign {
    #[serde(rename = "v", alias = "version")]
    pub version: u64,
    #[serde(rename = "j", alias = "windowsJoined", skip_serializing_if = "is_zero")]
    pub windows_joined: u64,
    #[serde(
        rename = "c",
        alias = "windowsCompleted",
        skip_serializing_if = "is_zero"
    )]
    pub windows_completed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A new log, as the analytics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFact {
    pub id: String,
    pub created_at: Timestamp,
    pub activity_at: Timestamp,
    pub counted: bool,
}

/// A reward written by the processor (now or in an earlier, interrupted attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct RewardFact {
    pub id: String,
    pub created_at: Timestamp,
    pub reached_at: Timestamp,
    pub points: Decimal,
}

/// What one stream batch tells about a member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchFacts {
    pub logs: Vec<LogFact>,
    pub rewards: Vec<RewardFact>,
    pub campaigns: Vec<(String, Campaign)>,
}

/// Length of a digest: 9 bytes (72 bits: no collision among one member's ids of a day) in
/// URL-safe base64.
const DIGEST_CHARS: usize = 12;

fn digest(id: &str) -> String {
    use base64::Engine;
    let hash = Sha256::digest(id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash[..9])
}

impl ActivityStats {
    /// Folds a batch in. Idempotent and order-free: an id already applied is skipped, counters
    /// only grow, and a program's counters are taken from the highest version seen. `today` is
    /// the processor's UTC day: buckets older than the widest window are dropped.
    pub fn apply(&mut self, facts: &BatchFacts, today: NaiveDate) {
        // Ids older than the horizon were applied long ago (or can no longer be delivered).
        let reference = facts.logs.iter().map(|l| l.created_at).max();
        let horizon = reference.map(|r| (r - REPLAY_HORIZON).timestamp());
        let fresh = |applied: &BTreeMap<String, i64>, id: &str, created: &Timestamp| {
            !applied.contains_key(&digest(id)) && horizon.is_none_or(|h| created.timestamp() >= h)
        };
        for log in &facts.logs {
            if !fresh(&self.applied, &log.id, &log.created_at) {
                continue;
            }
            self.applied
                .insert(digest(&log.id), log.created_at.timestamp());
            self.total_events += 1;
            if log.counted {
                self.total_plays += 1;
                let day = log.activity_at.date_naive();
                if in_last_days(day, today, WINDOW_DAYS) {
                    *self.plays_by_day.entry(day).or_default() += 1;
                }
                self.last_counted_at = self.last_counted_at.max(Some(log.activity_at));
            }
        }
        for reward in &facts.rewards {
            if !fresh(&self.applied, &reward.id, &reward.created_at) {
                continue;
            }
            self.applied
                .insert(digest(&reward.id), reward.created_at.timestamp());
            let day = reward.reached_at.date_naive();
            if in_last_days(day, today, WINDOW_DAYS) {
                let points = self.points_by_day.entry(day).or_default();
                *points = Amount::from(points.decimal() + reward.points);
            }
        }
        for (program, campaign) in &facts.campaigns {
            let entry = self.campaigns.entry(program.clone()).or_default();
            if campaign.version >= entry.version {
                *entry = *campaign;
            }
        }
        self.plays_by_day
            .retain(|d, _| in_last_days(*d, today, WINDOW_DAYS) || *d > today);
        self.points_by_day
            .retain(|d, _| in_last_days(*d, today, WINDOW_DAYS) || *d > today);
        if let Some(h) = horizon {
            self.applied.retain(|_, created| *created >= h);
        }
    }
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
    pub points_earned7d: Amount,
    pub points_earned30d: Amount,
    pub campaigns_joined: u64,
    pub win_rate: Amount,
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
    let days_since = last_counted_at.map(|t| (now.date_naive() - t.date_naive()).num_days());
    match days_since {
        Some(d) if d <= 7 => LifecycleStage::Active,
        Some(d) if d <= 30 => LifecycleStage::AtRisk,
        _ => LifecycleStage::Churned,
    }
}

/// Two decimals (half away from zero), 0 when no window was joined.
pub fn win_rate(joined: u64, completed: u64) -> Amount {
    if joined == 0 {
        return Amount::default();
    }
    let rate = Decimal::from(completed) / Decimal::from(joined);
    Amount::from(rate.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
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
            let total: Decimal = stats
                .points_by_day
                .iter()
                .filter(|(d, _)| in_last_days(**d, today, n))
                .map(|(_, p)| p.decimal())
                .sum();
            Amount::from(total)
        };
        let (plays7d, active7) = sum_plays(7);
        let (plays30d, active30) = sum_plays(WINDOW_DAYS);
        let score = engagement_score(active7, active30);
        let (joined, completed) = stats.campaigns.values().fold((0, 0), |(j, c), x| {
            (j + x.windows_joined, c + x.windows_completed)
        });
        Analytics {
            total_events: stats.total_events,
            total_plays: stats.total_plays,
            plays7d,
            plays30d,
            points_earned7d: sum_points(7),
            points_earned30d: sum_points(WINDOW_DAYS),
            campaigns_joined: stats.campaigns.len() as u64,
            win_rate: win_rate(joined, completed),
            engagement_score: score,
            engagement_tier: engagement_tier(score),
            lifecycle_stage: lifecycle_stage(first_seen_at, stats.last_counted_at, now),
        }
    }
}

#[cfg(test)]
mod tests;
