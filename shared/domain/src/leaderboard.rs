//! Leaderboards (SPEC §11): what a board is, its rules, and how standings are ranked. Pure: the
//! store keeps scores in rank-key order and the functions here turn them into ranks.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, FieldError};
use crate::patch::Patch;
use crate::program::ProgramStatus;
use crate::progress::PeriodKind;
use crate::time::{self, Timestamp};
use crate::validate;

pub const SLUG: &str = "leaderboard";

/// What a board ranks. `points`: points credited in the period (spends do not lower it);
/// `plays`: counted logs in the period; `streak`: the length of the member's current run of the
/// board's `streakId`, and `challenge`: the value of the member's current window of its
/// `challengeId`, each as of the member's last progress in the period (a value that is set, not
/// added to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Points,
    Plays,
    Streak,
    Challenge,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Streak => "streak",
            Metric::Challenge => "challenge",
            Metric::Points => "points",
            Metric::Plays => "plays",
        }
    }

    /// The program field a metric ranks by, if it ranks a program's progress.
    pub fn program_field(self) -> Option<&'static str> {
        match self {
            Metric::Streak => Some("streakId"),
            Metric::Challenge => Some("challengeId"),
            Metric::Points | Metric::Plays => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardPeriod {
    Daily,
    Weekly,
    Monthly,
    AllTime,
}

impl BoardPeriod {
    /// The calendar period, or `None` for `all_time`.
    pub fn kind(self) -> Option<PeriodKind> {
        match self {
            BoardPeriod::Daily => Some(PeriodKind::Daily),
            BoardPeriod::Weekly => Some(PeriodKind::Weekly),
            BoardPeriod::Monthly => Some(PeriodKind::Monthly),
            BoardPeriod::AllTime => None,
        }
    }
}

/// The `periodKey` of an `all_time` board.
pub const ALL_TIME_KEY: &str = "all_time";

/// A score change whose period ended longer ago than this is not applied: the standings of an
/// ended period settle (`final`) once this has passed, so the processor's lag never loses the
/// period's last changes and nothing changes a settled period afterwards.
pub const SETTLE_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// The most a score may reach (points credited: at most 1e12 each; a board sums them).
pub const MAX_SCORE: i64 = 1_000_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Leaderboard {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: ProgramStatus,
    pub metric: Metric,
    pub period: BoardPeriod,
    /// IANA; UTC when absent.
    pub timezone: Option<String>,
    /// The program whose progress a `streak` or `challenge` board ranks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_id: Option<String>,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339_ms")]
    pub updated_at: Timestamp,
    /// The next period the clock's sweep announces (`leaderboard.finished`); `None` for all time.
    /// Not part of the API's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_finish: Option<NextFinish>,
}

/// A period of a board whose end is still to be announced, and when: once it has settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextFinish {
    pub period_key: String,
    #[serde(with = "time::rfc3339_ms")]
    pub at: Timestamp,
}

/// How many of a period's best `leaderboard.finished` names.
pub const FINISHED_TOP: usize = 10;

impl Leaderboard {
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    pub fn to_record(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "metric": self.metric,
            "period": self.period,
            "timezone": self.timezone,
            "streakId": self.program_id.as_ref().filter(|_| self.metric == Metric::Streak),
            "challengeId": self.program_id.as_ref().filter(|_| self.metric == Metric::Challenge),
            "createdAt": time::format(&self.created_at),
            "updatedAt": time::format(&self.updated_at),
        })
    }
}

/// The body of a create or PATCH: every field absent, null or set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderboardInput {
    #[serde(default)]
    pub name: Patch<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub status: Patch<ProgramStatus>,
    #[serde(default)]
    pub metric: Patch<Metric>,
    #[serde(default)]
    pub period: Patch<BoardPeriod>,
    #[serde(default)]
    pub timezone: Patch<String>,
    #[serde(default)]
    pub streak_id: Patch<String>,
    #[serde(default)]
    pub challenge_id: Patch<String>,
}

impl LeaderboardInput {
    /// Applies this input to `base` (a new board for create) and checks every rule.
    pub fn apply(
        &self,
        base: Option<&Leaderboard>,
        id: String,
        now: Timestamp,
    ) -> Result<Leaderboard, ApiError> {
        let creating = base.is_none();
        let mut errors = Vec::new();
        let mut required = |field: &str, missing: bool| {
            if missing {
                errors.push(FieldError::new(field, "is required"));
            }
        };
        let missing = |absent: bool, null: bool| null || (creating && absent);
        required(
            "name",
            missing(self.name.is_absent(), matches!(self.name, Patch::Null)),
        );
        required(
            "status",
            missing(self.status.is_absent(), matches!(self.status, Patch::Null)),
        );
        required(
            "metric",
            missing(self.metric.is_absent(), matches!(self.metric, Patch::Null)),
        );
        required(
            "period",
            missing(self.period.is_absent(), matches!(self.period, Patch::Null)),
        );
        let mut b = base.cloned().unwrap_or(Leaderboard {
            id,
            name: String::new(),
            description: None,
            status: ProgramStatus::Draft,
            metric: Metric::Points,
            period: BoardPeriod::AllTime,
            timezone: None,
            program_id: None,
            created_at: now,
            updated_at: now,
            next_finish: None,
        });
        if let Patch::Value(name) = &self.name {
            match validate::required_chars(name, 256) {
                Ok(()) => b.name = name.clone(),
                Err(m) => errors.push(FieldError::new("name", m)),
            }
        }
        match &self.description {
            Patch::Value(d) => match validate::max_chars(d, 2000) {
                Ok(()) => b.description = Some(d.clone()),
                Err(m) => errors.push(FieldError::new("description", m)),
            },
            Patch::Null => b.description = None,
            Patch::Absent => {}
        }
        if let Some(status) = self.status.value() {
            b.status = *status;
        }
        // What a board ranks is fixed once it has standings: a change would mix two metrics.
        if let Some(metric) = self.metric.value() {
            if !creating && *metric != b.metric {
                errors.push(FieldError::new("metric", "cannot change after create"));
            }
            b.metric = *metric;
        }
        if let Some(period) = self.period.value() {
            if !creating && *period != b.period {
                errors.push(FieldError::new("period", "cannot change after create"));
            }
            b.period = *period;
        }
        match &self.timezone {
            Patch::Value(tz) => {
                if !creating && Some(tz) != b.timezone.as_ref() {
                    errors.push(FieldError::new("timezone", "cannot change after create"));
                }
                match validate::timezone(tz) {
                    Ok(_) => b.timezone = Some(tz.clone()),
                    Err(m) => errors.push(FieldError::new("timezone", m)),
                }
            }
            Patch::Null if !creating && b.timezone.is_some() => {
                errors.push(FieldError::new("timezone", "cannot change after create"));
            }
            _ => {}
        }
        // A program metric names its program (fixed after create); other metrics name none.
        for (field, input, metric) in [
            ("streakId", &self.streak_id, Metric::Streak),
            ("challengeId", &self.challenge_id, Metric::Challenge),
        ] {
            let named = input.value();
            if b.metric != metric {
                if named.is_some() {
                    errors.push(FieldError::new(
                        field,
                        format!("is only for metric {}", metric.as_str()),
                    ));
                }
                continue;
            }
            match named {
                Some(id) if creating => match validate::required_chars(id, 64) {
                    Ok(()) => b.program_id = Some(id.clone()),
                    Err(m) => errors.push(FieldError::new(field, m)),
                },
                Some(id) if Some(id) != b.program_id.as_ref() => {
                    errors.push(FieldError::new(field, "cannot change after create"));
                }
                None if creating || matches!(input, Patch::Null) => {
                    errors.push(FieldError::new(field, "is required for this metric"));
                }
                _ => {}
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        b.updated_at = now;
        Ok(b)
    }
}

/// One member's score on a board in a period, as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub member_id: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub value: Decimal,
    /// When the member reached `value` (ties go to who reached it first).
    pub reached_at: Timestamp,
}

/// The order of standings as one string, ascending = best first: the value descending, then who
/// reached it first, then the member id (a stable order for equal instants).
pub fn rank_key(value: Decimal, reached_at: &Timestamp, member_id: &str) -> String {
    format!(
        "{}#{}#{member_id}",
        value_key(value),
        time::format(reached_at)
    )
}

/// The value part of a rank key: every key of a better value sorts before it.
pub fn value_key(value: Decimal) -> String {
    let inverted = Decimal::from(MAX_SCORE) - value.clamp(Decimal::ZERO, Decimal::from(MAX_SCORE));
    let whole = inverted.trunc();
    let micros = ((inverted - whole) * Decimal::from(1_000_000)).trunc();
    format!("{whole:0>19}.{micros:0>6}")
}

/// The histogram bucket of a value: values with the same two leading digits share one (`[lower,
/// lower + width)`), so a board has at most ~1,700 buckets whatever its size; values below 1
/// share the first.
pub fn bucket_of(value: Decimal) -> (Decimal, Decimal) {
    let whole = value.max(Decimal::ZERO).trunc();
    let digits = whole.to_string().len() as u32;
    if whole.is_zero() || digits <= 2 {
        return (whole, Decimal::ONE);
    }
    let width = Decimal::from(10_i64.pow(digits - 2));
    ((whole / width).trunc() * width, width)
}

/// A ranked entry as the API answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub rank: u64,
    pub score: Score,
}

impl Standing {
    /// `members_shown_by_name_only`: an end user sees others by `displayName` alone.
    pub fn to_record(&self, members_shown_by_name_only: bool) -> Value {
        let s = &self.score;
        if members_shown_by_name_only {
            return json!({
                "rank": self.rank,
                "displayName": s.display_name,
                "value": crate::amount::Amount::from(s.value),
                "reachedAt": time::format(&s.reached_at),
            });
        }
        json!({
            "rank": self.rank,
            "ownedById": s.member_id,
            "externalId": s.external_id,
            "displayName": s.display_name,
            "value": crate::amount::Amount::from(s.value),
            "reachedAt": time::format(&s.reached_at),
        })
    }
}

/// Standard competition ranks ("1224") of scores in standing order: `ahead` entries stand before
/// them, and `previous` is the (value, rank) of the one just before, if any.
pub fn rank(scores: Vec<Score>, ahead: u64, previous: Option<(Decimal, u64)>) -> Vec<Standing> {
    let mut out: Vec<Standing> = Vec::with_capacity(scores.len());
    let mut last = previous;
    for (i, score) in scores.into_iter().enumerate() {
        let position = ahead + i as u64 + 1;
        let rank = match last {
            Some((value, rank)) if value == score.value => rank,
            _ => position,
        };
        last = Some((score.value, rank));
        out.push(Standing { rank, score });
    }
    out
}

/// The share of participants a member ranks at or above, in percent with one decimal: rank 1 of
/// 200 is 100.0, rank 200 of 200 is 0.5.
pub fn percentile(rank: u64, participants: u64) -> Decimal {
    if participants == 0 {
        return Decimal::ZERO;
    }
    let share = Decimal::from(participants.saturating_sub(rank) + 1) * Decimal::from(100)
        / Decimal::from(participants);
    share.round_dp(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(id: &str, value: i64, at_secs: i64) -> Score {
        Score {
            member_id: id.into(),
            external_id: id.into(),
            display_name: None,
            value: Decimal::from(value),
            reached_at: chrono::DateTime::from_timestamp(at_secs, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn rank_keys_sort_better_values_first_then_who_reached_first() {
        let at = |s| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
        let mut keys = [
            rank_key(Decimal::from(5), &at(10), "a"),
            rank_key(Decimal::new(55, 1), &at(20), "b"),
            rank_key(Decimal::from(100), &at(30), "c"),
            rank_key(Decimal::from(5), &at(5), "d"),
            rank_key(Decimal::ZERO, &at(1), "e"),
            rank_key(Decimal::from(MAX_SCORE), &at(1), "f"),
        ];
        keys.sort();
        let order: Vec<&str> = keys.iter().map(|k| &k[k.len() - 1..]).collect();
        assert_eq!(order, ["f", "c", "b", "d", "a", "e"]);
    }

    #[test]
    fn ties_share_a_rank_and_the_next_rank_skips() {
        let ranked = rank(
            vec![
                score("a", 9, 1),
                score("b", 7, 1),
                score("c", 7, 2),
                score("d", 3, 1),
            ],
            0,
            None,
        );
        let ranks: Vec<u64> = ranked.iter().map(|s| s.rank).collect();
        assert_eq!(ranks, [1, 2, 2, 4]);
        // A next page that starts inside a tie keeps the tie's rank.
        let next = rank(
            vec![score("e", 3, 2), score("f", 1, 1)],
            4,
            Some((Decimal::from(3), 4)),
        );
        let ranks: Vec<u64> = next.iter().map(|s| s.rank).collect();
        assert_eq!(ranks, [4, 6]);
    }

    #[test]
    fn buckets_keep_two_leading_digits() {
        let b = |v: i64| bucket_of(Decimal::from(v));
        assert_eq!(b(0), (Decimal::ZERO, Decimal::ONE));
        assert_eq!(b(57), (Decimal::from(57), Decimal::ONE));
        assert_eq!(b(1234), (Decimal::from(1200), Decimal::from(100)));
        assert_eq!(b(99_999), (Decimal::from(99_000), Decimal::from(1000)));
        assert_eq!(
            bucket_of(Decimal::new(37, 1)),
            (Decimal::from(3), Decimal::ONE)
        );
    }

    #[test]
    fn percentiles_run_from_the_top_down() {
        assert_eq!(percentile(1, 200), Decimal::from(100));
        assert_eq!(percentile(200, 200), Decimal::new(5, 1));
        assert_eq!(percentile(1, 1), Decimal::from(100));
        assert_eq!(percentile(2, 3), Decimal::new(667, 1));
    }

    #[test]
    fn metric_and_period_are_fixed_after_create() {
        let now = crate::time::now();
        let create: LeaderboardInput = serde_json::from_value(
            json!({"name": "Top", "status": "live", "metric": "points", "period": "weekly"}),
        )
        .unwrap();
        let board = create.apply(None, "b".into(), now).unwrap();
        let patch: LeaderboardInput = serde_json::from_value(json!({"metric": "plays"})).unwrap();
        let err = patch.apply(Some(&board), "b".into(), now).unwrap_err();
        assert_eq!(err.details()[0].field, "metric");
        let missing: LeaderboardInput = serde_json::from_value(json!({"name": "x"})).unwrap();
        let fields: Vec<String> = missing
            .apply(None, "b".into(), now)
            .unwrap_err()
            .details()
            .iter()
            .map(|d| d.field.clone())
            .collect();
        assert_eq!(fields, ["status", "metric", "period"]);
    }
}
