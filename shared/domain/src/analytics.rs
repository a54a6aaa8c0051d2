//! Engagement analytics (SPEC §7) as pure functions of compact stored counters and `now`.
//!
//! The stream processor folds each batch into `ActivityStats`, kept on the member item (so a member
//! read stays one read): per-UTC-day buckets of counted logs and reward points for the last 30 days,
//! lifetime counters, per-program challenge window counters, and the ids applied recently (a
//! replayed batch changes nothing). Windows are evaluated here against the reader's `now`, so the
//! numbers age correctly without any write.
//!
//! Day windows: "the last N days" are the UTC day of `now` and the N − 1 days before it. Score,
//! tier and lifecycle stage follow GamifyHost's User Journeys rules; the parts GamifyHost leaves
//! open are decided in docs/DECISIONS.md ("Analytics").

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::amount::Amount;
use crate::time::Timestamp;

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
    /// Short digests of the log and reward ids applied, with their creation time (Unix seconds).
    /// Stored by creation hour, a string of digests per hour: the item stays small (every write
    /// of the member costs its size) at the price of keeping an id up to an hour longer.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", with = "applied_by_hour")]
    pub applied: BTreeMap<String, i64>,
    /// The latest `activityAt` of the member's logs and user-journey events (counted or not):
    /// what the score's recency counts from. A profile sync is not activity (SPEC §7).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_ms::option"
    )]
    pub last_activity_at: Option<Timestamp>,
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
            self.last_activity_at = self.last_activity_at.max(Some(log.activity_at));
            if log.counted {
                self.total_plays += 1;
                let day = log.activity_at.date_naive();
                if in_last_days(day, today, WINDOW_DAYS) {
                    *self.plays_by_day.entry(day).or_default() += 1;
                }
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

/// GamifyHost's engagement tiers, by counted plays in the last 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngagementTier {
    Casual,
    Regular,
    PowerUser,
    Whale,
}

/// GamifyHost's lifecycle stages; `lifecycle_stage` says which wins where they overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    New,
    Active,
    Engaged,
    PowerUser,
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
    pub engagement_score: Amount,
    pub engagement_tier: EngagementTier,
    pub lifecycle_stage: LifecycleStage,
}

/// Days in the window "the last N days": today and the N − 1 UTC days before it.
fn in_last_days(day: NaiveDate, today: NaiveDate, n: i64) -> bool {
    let age = (today - day).num_days();
    (0..n).contains(&age)
}

/// What the engagement score is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreInputs {
    /// Whole days since the member's last activity (0 = within the last 24 hours); `None` when
    /// the member has no activity at all.
    pub days_since_activity: Option<i64>,
    pub plays30d: u64,
    pub points30d: Decimal,
    pub campaigns_joined: u64,
}

/// Where each factor of the score reaches full marks.
pub const RECENCY_DAYS: i64 = 30;
pub const FULL_FREQUENCY_PLAYS: u64 = 30;
pub const FULL_MONETARY_POINTS: u64 = 500;
pub const FULL_BREADTH_CAMPAIGNS: u64 = 5;

/// GamifyHost's weighted composite, 0–100, two decimals (half away from zero). Each factor is
/// linear from 0 to full marks and capped: recency 30 (activity today) down to 0 (30 days or
/// more, or no activity),
/// frequency 30 (30 plays in 30 days), monetary 20 (500 points in 30 days), breadth 20 (5
/// campaigns). In exact decimals, so 62.5 reads 62.5.
pub fn engagement_score(inputs: ScoreInputs) -> Amount {
    let factor = |value: Decimal, full: Decimal, weight: i64| {
        let share = if value <= Decimal::ZERO {
            Decimal::ZERO
        } else {
            (value / full).min(Decimal::ONE)
        };
        share * Decimal::from(weight)
    };
    let recency_left = inputs.days_since_activity.map_or(Decimal::ZERO, |days| {
        Decimal::from((RECENCY_DAYS - days.max(0)).max(0))
    });
    let score = factor(recency_left, Decimal::from(RECENCY_DAYS), 30)
        + factor(
            Decimal::from(inputs.plays30d),
            Decimal::from(FULL_FREQUENCY_PLAYS),
            30,
        )
        + factor(inputs.points30d, Decimal::from(FULL_MONETARY_POINTS), 20)
        + factor(
            Decimal::from(inputs.campaigns_joined),
            Decimal::from(FULL_BREADTH_CAMPAIGNS),
            20,
        );
    Amount::from(score.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// `casual` < 5 plays in 30 days ≤ `regular` < 15 ≤ `power_user` ≤ 50 < `whale`. GamifyHost
/// writes "regular (5–15)" and "power_user (15–50)": 15 belongs to the tier that starts there.
pub fn engagement_tier(plays30d: u64) -> EngagementTier {
    match plays30d {
        0..=4 => EngagementTier::Casual,
        5..=14 => EngagementTier::Regular,
        15..=50 => EngagementTier::PowerUser,
        _ => EngagementTier::Whale,
    }
}

/// What the lifecycle stage is decided from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageInputs {
    pub first_seen_at: Timestamp,
    /// When the member was last seen (track-user call, log or user-journey event); the first
    /// sighting when never since.
    pub last_seen_at: Timestamp,
    pub total_events: u64,
    pub plays30d: u64,
    pub campaigns_joined: u64,
    pub engagement_score: Decimal,
}

/// The first stage that holds, in this order: absence decides first (`churned` more than 30 × 24
/// h since last seen, `at_risk` 14 × 24 h or more), then depth of play (`power_user` 30+ plays in
/// 30 days and score ≥ 70, `engaged` 10+ plays and a campaign joined), then age (`new` first seen
/// within 7 × 24 h with ≤ 3 events); everything else — seen within 7 days with more events, and
/// the gap GamifyHost leaves (last seen 8–13 days ago) — is `active`.
pub fn lifecycle_stage(s: StageInputs, now: Timestamp) -> LifecycleStage {
    let since_seen = now - s.last_seen_at;
    if since_seen > Duration::days(30) {
        LifecycleStage::Churned
    } else if since_seen >= Duration::days(14) {
        LifecycleStage::AtRisk
    } else if s.plays30d >= 30 && s.engagement_score >= Decimal::from(70) {
        LifecycleStage::PowerUser
    } else if s.plays30d >= 10 && s.campaigns_joined >= 1 {
        LifecycleStage::Engaged
    } else if now - s.first_seen_at <= Duration::days(7) && s.total_events <= 3 {
        LifecycleStage::New
    } else {
        LifecycleStage::Active
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
    /// `last_seen_at` is the member's `lastSeenAt` (None: never seen since its first sighting).
    pub fn compute(
        stats: Option<&ActivityStats>,
        first_seen_at: Timestamp,
        last_seen_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Self {
        let empty = ActivityStats::default();
        let stats = stats.unwrap_or(&empty);
        let today = now.date_naive();
        let sum_plays = |n| {
            stats
                .plays_by_day
                .iter()
                .filter(|(d, _)| in_last_days(**d, today, n))
                .map(|(_, c)| c)
                .sum::<u64>()
        };
        let sum_points = |n| {
            stats
                .points_by_day
                .iter()
                .filter(|(d, _)| in_last_days(**d, today, n))
                .map(|(_, p)| p.decimal())
                .sum::<Decimal>()
        };
        let plays30d = sum_plays(WINDOW_DAYS);
        let points30d = sum_points(WINDOW_DAYS);
        let campaigns_joined = stats.campaigns.len() as u64;
        let last_seen_at = last_seen_at.unwrap_or(first_seen_at).max(first_seen_at);
        // Stats stored before `last_activity_at` existed: their last sighting stands in.
        let last_activity_at = stats
            .last_activity_at
            .or_else(|| (stats.total_events > 0).then_some(last_seen_at));
        let score = engagement_score(ScoreInputs {
            days_since_activity: last_activity_at.map(|t| (now - t).num_days()),
            plays30d,
            points30d,
            campaigns_joined,
        });
        let (joined, completed) = stats.campaigns.values().fold((0, 0), |(j, c), x| {
            (j + x.windows_joined, c + x.windows_completed)
        });
        Analytics {
            total_events: stats.total_events,
            total_plays: stats.total_plays,
            plays7d: sum_plays(7),
            plays30d,
            points_earned7d: Amount::from(sum_points(7)),
            points_earned30d: Amount::from(points30d),
            campaigns_joined,
            win_rate: win_rate(joined, completed),
            engagement_score: score,
            engagement_tier: engagement_tier(plays30d),
            lifecycle_stage: lifecycle_stage(
                StageInputs {
                    first_seen_at,
                    last_seen_at,
                    total_events: stats.total_events,
                    plays30d,
                    campaigns_joined,
                    engagement_score: score.decimal(),
                },
                now,
            ),
        }
    }
}

#[cfg(test)]
mod tests;
