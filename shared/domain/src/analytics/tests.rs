//! Unit tests of `analytics`.
use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn at(y: i32, m: u32, d: u32) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn applied_ids_are_stored_by_hour_and_never_pruned_early() {
    let created = [
        1_795_500_000_i64,
        1_795_500_001,
        1_795_503_599,
        1_795_503_600,
    ];
    let stats = ActivityStats {
        applied: created
            .iter()
            .enumerate()
            .map(|(i, c)| (digest(&format!("log-{i}")), *c))
            .collect(),
        ..Default::default()
    };
    let stored = serde_json::to_value(&stats).unwrap();
    assert_eq!(stored["applied"].as_object().unwrap().len(), 2, "{stored}");
    let back: ActivityStats = serde_json::from_value(stored).unwrap();
    assert_eq!(back.applied.len(), created.len());
    for (digest, original) in &stats.applied {
        let read = back.applied[digest];
        assert!(
            read >= *original && read < original + 3600,
            "{read} vs {original}"
        );
    }
    // The earlier form, one entry per id, still reads.
    let earlier: ActivityStats =
        serde_json::from_value(serde_json::json!({"applied": {"abcdefghijkl": 1_795_500_000}, "campaigns": {"p": {"version": 3, "windowsJoined": 2}}}))
            .unwrap();
    assert_eq!(earlier.applied["abcdefghijkl"], 1_795_500_000);
    assert_eq!(earlier.campaigns["p"].version, 3);
    assert_eq!(earlier.campaigns["p"].windows_joined, 2);
}

fn log(id: &str, activity_at: Timestamp, counted: bool) -> LogFact {
    LogFact {
        id: id.into(),
        created_at: at(2026, 11, 24),
        activity_at,
        counted,
    }
}

#[test]
fn a_member_without_activity_is_new_then_active_then_at_risk_then_churned() {
    let first = at(2026, 11, 1);
    let a = Analytics::compute(None, first, Some(first), at(2026, 11, 3));
    assert_eq!(a.lifecycle_stage, LifecycleStage::New);
    assert_eq!(a.engagement_tier, EngagementTier::Casual);
    // Seen 2 days ago by a profile sync, no activity: no recency, nothing else (seed 001's 0).
    assert_eq!(a.engagement_score, Amount::default());
    let synced_now = Analytics::compute(None, first, Some(first), first);
    assert_eq!(synced_now.engagement_score, Amount::default());
    assert_eq!(a.win_rate, Amount::default());
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["pointsEarned7d"], serde_json::json!(0));
    assert_eq!(
        json["winRate"],
        serde_json::json!(0),
        "the seed's integer 0"
    );
    assert_eq!(json["engagementTier"], "casual");
    assert_eq!(json["lifecycleStage"], "new");
    let stage = |now| Analytics::compute(None, first, None, now).lifecycle_stage;
    assert_eq!(
        stage(at(2026, 11, 10)),
        LifecycleStage::Active,
        "9 days: the gap"
    );
    assert_eq!(stage(at(2026, 11, 15)), LifecycleStage::AtRisk);
    assert_eq!(stage(at(2026, 12, 15)), LifecycleStage::Churned);
    let never = Analytics::compute(None, first, None, at(2026, 12, 15));
    assert_eq!(never.engagement_score, Amount::default());
}

#[test]
fn tiers_follow_plays_in_30_days_at_every_boundary() {
    for (plays, tier, name) in [
        (0, EngagementTier::Casual, "casual"),
        (4, EngagementTier::Casual, "casual"),
        (5, EngagementTier::Regular, "regular"),
        (14, EngagementTier::Regular, "regular"),
        (15, EngagementTier::PowerUser, "power_user"),
        (50, EngagementTier::PowerUser, "power_user"),
        (51, EngagementTier::Whale, "whale"),
        (10_000, EngagementTier::Whale, "whale"),
    ] {
        assert_eq!(engagement_tier(plays), tier, "{plays} plays");
        assert_eq!(serde_json::to_value(tier).unwrap(), name);
    }
}

fn score(days_since_activity: i64, plays30d: u64, points: Decimal, campaigns: u64) -> Amount {
    engagement_score(ScoreInputs {
        days_since_activity: Some(days_since_activity),
        plays30d,
        points30d: points,
        campaigns_joined: campaigns,
    })
}

fn amount(text: &str) -> Amount {
    Amount::from(text.parse::<Decimal>().unwrap())
}

#[test]
fn score_factors_are_linear_capped_and_weighted_30_30_20_20() {
    let zero = Decimal::ZERO;
    assert_eq!(score(0, 30, Decimal::from(500), 5), amount("100"));
    assert_eq!(score(30, 0, zero, 0), amount("0"));
    // Recency: 30 at 0 days, 1 point a day, 0 from 30 days on (and never negative).
    assert_eq!(score(0, 0, zero, 0), amount("30"));
    assert_eq!(score(1, 0, zero, 0), amount("29"));
    assert_eq!(score(29, 0, zero, 0), amount("1"));
    assert_eq!(score(400, 0, zero, 0), amount("0"));
    let no_activity = ScoreInputs {
        days_since_activity: None,
        plays30d: 0,
        points30d: zero,
        campaigns_joined: 0,
    };
    assert_eq!(engagement_score(no_activity), amount("0"));
    // Frequency: 1 point a play up to 30 plays.
    assert_eq!(score(30, 29, zero, 0), amount("29"));
    assert_eq!(score(30, 30, zero, 0), amount("30"));
    assert_eq!(score(30, 500, zero, 0), amount("30"));
    // Monetary: 20 at 500 points, linear; fractional points give a fractional score.
    assert_eq!(score(30, 0, Decimal::from(250), 0), amount("10"));
    assert_eq!(score(30, 0, Decimal::from(499), 0), amount("19.96"));
    assert_eq!(score(30, 0, Decimal::from(10_000), 0), amount("20"));
    assert_eq!(
        score(30, 0, Decimal::new(1, 2), 0),
        amount("0"),
        "0.0004 rounds to 0"
    );
    assert_eq!(score(30, 0, Decimal::new(-5, 0), 0), amount("0"));
    // Breadth: 4 a campaign up to 5.
    assert_eq!(score(30, 0, zero, 1), amount("4"));
    assert_eq!(score(30, 0, zero, 5), amount("20"));
    assert_eq!(score(30, 0, zero, 9), amount("20"));
    // GamifyHost's example value: seen today, 15 plays, 237.5 points, 2 campaigns.
    let example = score(0, 15, Decimal::new(2375, 1), 2);
    assert_eq!(example, amount("62.5"));
    assert_eq!(
        serde_json::to_value(example).unwrap(),
        serde_json::json!(62.5)
    );
    // Two decimals, half away from zero: 1.25 points → 0.05; 0.125 → 0.005 → 0.01.
    assert_eq!(score(30, 0, Decimal::new(125, 3), 0), amount("0.01"));
}

fn stage_of(
    since_seen: Duration,
    first_seen_ago: Duration,
    events: u64,
    plays30d: u64,
    campaigns: u64,
    score: i64,
) -> LifecycleStage {
    let now = at(2026, 11, 24);
    lifecycle_stage(
        StageInputs {
            first_seen_at: now - first_seen_ago,
            last_seen_at: now - since_seen,
            total_events: events,
            plays30d,
            campaigns_joined: campaigns,
            engagement_score: Decimal::from(score),
        },
        now,
    )
}

#[test]
fn lifecycle_stages_at_every_boundary_and_in_their_order() {
    use LifecycleStage::*;
    let d = Duration::days;
    let ms = Duration::milliseconds;
    let long_ago = d(365);
    // Absence: more than 30 days churned; 14–30 days at risk, whatever was played before.
    assert_eq!(stage_of(d(30) + ms(1), long_ago, 99, 40, 3, 90), Churned);
    assert_eq!(stage_of(d(30), long_ago, 99, 40, 3, 90), AtRisk);
    assert_eq!(stage_of(d(14), long_ago, 99, 40, 3, 90), AtRisk);
    assert_eq!(stage_of(d(14) - ms(1), long_ago, 99, 40, 3, 90), PowerUser);
    // Power user: 30+ plays and score ≥ 70; else engaged with 10+ plays and a campaign.
    assert_eq!(stage_of(d(0), long_ago, 99, 30, 3, 70), PowerUser);
    assert_eq!(stage_of(d(0), long_ago, 99, 29, 3, 90), Engaged);
    assert_eq!(stage_of(d(0), long_ago, 99, 30, 3, 69), Engaged);
    assert_eq!(
        stage_of(d(0), long_ago, 99, 30, 0, 70),
        PowerUser,
        "no campaign needed"
    );
    assert_eq!(stage_of(d(0), long_ago, 99, 10, 1, 40), Engaged);
    assert_eq!(stage_of(d(0), long_ago, 99, 9, 1, 40), Active);
    assert_eq!(stage_of(d(0), long_ago, 99, 10, 0, 40), Active);
    // New: first seen within 7 days with at most 3 events.
    assert_eq!(stage_of(d(0), d(7), 3, 0, 0, 30), New);
    assert_eq!(stage_of(d(0), d(7) + ms(1), 3, 0, 0, 30), Active);
    assert_eq!(stage_of(d(0), d(1), 4, 0, 0, 30), Active);
    // The gap GamifyHost leaves (last seen 8–13 days ago) is active.
    assert_eq!(stage_of(d(8), long_ago, 5, 2, 1, 10), Active);
    assert_eq!(stage_of(d(13), long_ago, 1, 0, 0, 10), Active);
}

#[test]
fn windows_by_utc_day() {
    let now = at(2026, 11, 24);
    let stats = ActivityStats {
        total_events: 4,
        total_plays: 3,
        plays_by_day: BTreeMap::from([
            (day(2026, 11, 18), 1), // 6 days ago: in 7d
            (day(2026, 11, 17), 1), // 7 days ago: only in 30d
            (day(2026, 10, 26), 1), // 29 days ago: in 30d
            (day(2026, 10, 25), 1), // 30 days ago: outside 30d
        ]),
        points_by_day: BTreeMap::from([
            (day(2026, 11, 18), Amount::from(Decimal::new(1, 1))),
            (day(2026, 11, 17), Amount::from(Decimal::new(2, 1))),
            (day(2026, 10, 25), Amount::from(Decimal::from(50))),
        ]),
        last_activity_at: Some(at(2026, 11, 18)),
        ..Default::default()
    };
    let a = Analytics::compute(Some(&stats), at(2026, 1, 1), Some(at(2026, 11, 18)), now);
    assert_eq!((a.plays7d, a.plays30d), (1, 3));
    assert_eq!(a.points_earned7d, Amount::from(Decimal::new(1, 1)));
    assert_eq!(a.points_earned30d, Amount::from(Decimal::new(3, 1)));
    // Seen 6 days ago (24), 3 plays (3), 0.3 points (0.012 → 0.01).
    assert_eq!(a.engagement_score, amount("27.01"));
    assert_eq!(a.lifecycle_stage, LifecycleStage::Active);
}

#[test]
fn applying_counts_each_log_and_reward_once() {
    let today = day(2026, 11, 24);
    let facts = BatchFacts {
        logs: vec![
            log("a", at(2026, 11, 24), true),
            log("b", at(2026, 11, 20), true),
            log("c", at(2026, 11, 20), false),
            log("d", at(2026, 9, 1), true), // backfilled beyond the windows
        ],
        rewards: vec![RewardFact {
            id: "r".into(),
            created_at: at(2026, 11, 24),
            reached_at: at(2026, 11, 20),
            points: Decimal::from(10),
        }],
        campaigns: vec![(
            "p".into(),
            Campaign {
                version: 3,
                windows_joined: 2,
                windows_completed: 1,
            },
        )],
    };
    let mut stats = ActivityStats::default();
    stats.apply(&facts, today);
    let once = stats.clone();
    stats.apply(&facts, today);
    assert_eq!(stats, once, "a replay changes nothing");
    let a = Analytics::compute(Some(&stats), at(2026, 1, 1), None, at(2026, 11, 24));
    assert_eq!((a.total_events, a.total_plays), (4, 3));
    assert_eq!((a.plays7d, a.plays30d), (2, 2));
    assert_eq!(a.points_earned7d, Amount::from(Decimal::from(10)));
    assert_eq!(a.campaigns_joined, 1);
    assert_eq!(a.win_rate, Amount::from(Decimal::new(5, 1)));
    // An older version of a program's counters never replaces a newer one.
    let stale = BatchFacts {
        campaigns: vec![("p".into(), Campaign::default())],
        ..Default::default()
    };
    stats.apply(&stale, today);
    assert_eq!(stats.campaigns["p"].version, 3);
}

/// Recency counts from the latest `activityAt` of the member's logs and events, never from a
/// profile sync (SPEC §7).
#[test]
fn recency_counts_from_the_last_activity_not_the_last_sync() {
    let first = at(2026, 1, 1);
    let now = at(2026, 11, 24) + Duration::hours(12);
    let with_activity = |activity_at: Timestamp| {
        let mut stats = ActivityStats::default();
        stats.apply(
            &BatchFacts {
                logs: vec![LogFact {
                    created_at: now,
                    ..log("x", activity_at, false)
                }],
                ..Default::default()
            },
            now.date_naive(),
        );
        stats
    };
    let score_at = |stats: &ActivityStats, last_seen: Timestamp| {
        Analytics::compute(Some(stats), first, Some(last_seen), now).engagement_score
    };
    // Activity today: full recency (the log does not count, so nothing else scores).
    assert_eq!(score_at(&with_activity(now), now), amount("30"));
    assert_eq!(
        score_at(&with_activity(now - Duration::hours(23)), now),
        amount("30")
    );
    // 29 days ago: 1 point; 30 days ago: none.
    let days_ago = |n| now - Duration::days(n);
    assert_eq!(score_at(&with_activity(days_ago(29)), now), amount("1"));
    assert_eq!(score_at(&with_activity(days_ago(30)), now), amount("0"));
    // A sync today after activity 20 days ago does not raise the score.
    let old = with_activity(days_ago(20));
    assert_eq!(score_at(&old, days_ago(20)), amount("10"));
    assert_eq!(score_at(&old, now), amount("10"));
    // The latest activity wins, whatever order the logs came in.
    let mut both = with_activity(days_ago(2));
    both.apply(
        &BatchFacts {
            logs: vec![LogFact {
                created_at: now,
                ..log("y", days_ago(10), false)
            }],
            ..Default::default()
        },
        now.date_naive(),
    );
    assert_eq!(both.last_activity_at, Some(days_ago(2)));
    // Stats stored before the field existed: the last sighting stands in, as before.
    let legacy = ActivityStats {
        total_events: 1,
        ..Default::default()
    };
    assert_eq!(score_at(&legacy, days_ago(5)), amount("25"));
}

#[test]
fn applied_ids_are_forgotten_after_the_replay_horizon() {
    let today = day(2026, 11, 24);
    let mut stats = ActivityStats::default();
    let old = LogFact {
        created_at: at(2026, 11, 22),
        ..log("old", at(2026, 11, 22), true)
    };
    stats.apply(
        &BatchFacts {
            logs: vec![old.clone()],
            ..Default::default()
        },
        today,
    );
    assert_eq!(stats.applied.len(), 1);
    stats.apply(
        &BatchFacts {
            logs: vec![log("new", at(2026, 11, 24), true)],
            ..Default::default()
        },
        today,
    );
    assert_eq!(stats.applied.len(), 1, "the id older than 24 h is dropped");
    // A reward written in an interrupted attempt long ago is not applied again.
    stats.apply(
        &BatchFacts {
            logs: vec![log("new", at(2026, 11, 24), true)],
            rewards: vec![RewardFact {
                id: "r-old".into(),
                created_at: at(2026, 11, 20),
                reached_at: at(2026, 11, 20),
                points: Decimal::ONE,
            }],
            ..Default::default()
        },
        today,
    );
    assert!(stats.points_by_day.is_empty());
    assert_eq!(stats.total_plays, 2);
}

proptest! {
    /// Any order, duplication and batching of the same facts gives the same stats.
    #[test]
    fn batching_order_and_duplicates_do_not_matter(
        logs in proptest::collection::vec(0u8..40, 1..30),
        cuts in proptest::collection::vec(0usize..60, 0..6),
        seed in any::<u64>(),
    ) {
        let today = day(2026, 11, 24);
        // The same id always carries the same log.
        let facts: Vec<LogFact> = logs
            .iter()
            .map(|id| LogFact {
                id: format!("log-{id}"),
                created_at: at(2026, 11, 24),
                activity_at: at(2026, 11, 24) - Duration::days(i64::from(*id) * 7 % 45),
                counted: id % 3 != 0,
            })
            .collect();
        let mut once = ActivityStats::default();
        let mut unique = facts.clone();
        unique.sort_by(|a, b| a.id.cmp(&b.id));
        unique.dedup_by(|a, b| a.id == b.id);
        once.apply(&BatchFacts { logs: unique, ..Default::default() }, today);

        // Duplicate, shuffle, split.
        let mut replayed = facts.clone();
        replayed.extend(facts.iter().take(seed as usize % (facts.len() + 1)).cloned());
        let n = replayed.len();
        for i in 0..n {
            replayed.swap(i, (seed as usize).wrapping_mul(31).wrapping_add(i * 7) % n);
        }
        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (n + 1)).collect();
        bounds.push(0);
        bounds.push(n);
        bounds.sort();
        let mut stats = ActivityStats::default();
        for w in bounds.windows(2) {
            stats.apply(&BatchFacts { logs: replayed[w[0]..w[1]].to_vec(), ..Default::default() }, today);
        }
        prop_assert_eq!(stats, once);
    }
}
