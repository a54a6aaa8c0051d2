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
fn a_member_without_activity_is_new_then_churned() {
    let first = at(2026, 11, 1);
    let a = Analytics::compute(None, first, at(2026, 11, 3));
    assert_eq!(a.lifecycle_stage, LifecycleStage::New);
    assert_eq!(a.engagement_tier, EngagementTier::Casual);
    assert_eq!((a.engagement_score, a.total_plays), (0, 0));
    assert_eq!(a.win_rate, Amount::default());
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["pointsEarned7d"], serde_json::json!(0));
    assert_eq!(
        json["winRate"],
        serde_json::json!(0),
        "the seed's integer 0"
    );
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
    let rate = |j, c| serde_json::to_value(win_rate(j, c)).unwrap();
    assert_eq!(rate(3, 1), serde_json::json!(0.33));
    assert_eq!(rate(3, 2), serde_json::json!(0.67));
    assert_eq!(rate(8, 1), serde_json::json!(0.13), "0.125 rounds up");
    assert_eq!(rate(2, 2), serde_json::json!(1));
    assert_eq!(rate(0, 0), serde_json::json!(0));
}

#[test]
fn scores_of_24_and_25_and_of_59_and_60_from_stored_days() {
    let now = at(2026, 11, 24);
    let with_days = |recent: u32, older: u32| {
        let mut plays = BTreeMap::new();
        for i in 0..recent {
            plays.insert(day(2026, 11, 24 - i), 1);
        }
        for i in 0..older {
            plays.insert(day(2026, 11, 17 - i), 1);
        }
        let stats = ActivityStats {
            plays_by_day: plays,
            ..Default::default()
        };
        Analytics::compute(Some(&stats), at(2026, 1, 1), now)
    };
    // activeDays7, activeDays30 → 100 × (0.5 × a7 / 7 + 0.5 × a30 / 30), rounded.
    let cases = [
        ((1, 9), 24, EngagementTier::Casual),   // 1, 10: 23.8
        ((1, 10), 25, EngagementTier::Regular), // 1, 11: 25.5
        ((2, 4), 24, EngagementTier::Casual),   // 2, 6: 24.3
        ((5, 9), 59, EngagementTier::Regular),  // 5, 14: 59.05
        ((6, 4), 60, EngagementTier::Power),    // 6, 10: 59.5
        ((6, 3), 58, EngagementTier::Regular),  // 6, 9: 57.9
    ];
    for ((recent, older), score, tier) in cases {
        let a = with_days(recent, older);
        assert_eq!(
            (a.engagement_score, a.engagement_tier),
            (score, tier),
            "{recent} + {older} days"
        );
    }
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
        last_counted_at: Some(at(2026, 11, 18)),
        ..Default::default()
    };
    let a = Analytics::compute(Some(&stats), at(2026, 1, 1), now);
    assert_eq!((a.plays7d, a.plays30d), (1, 3));
    assert_eq!(a.points_earned7d, Amount::from(Decimal::new(1, 1)));
    assert_eq!(a.points_earned30d, Amount::from(Decimal::new(3, 1)));
    assert_eq!(a.engagement_score, engagement_score(1, 3));
    assert_eq!(a.lifecycle_stage, LifecycleStage::Active);
}

#[test]
fn lifecycle_boundaries() {
    let first = at(2026, 1, 1);
    let now = at(2026, 11, 24);
    let stage = |last| lifecycle_stage(first, last, now);
    assert_eq!(stage(Some(at(2026, 11, 17))), LifecycleStage::Active); // 7 days ago
    assert_eq!(stage(Some(at(2026, 11, 16))), LifecycleStage::AtRisk); // 8 days ago
    assert_eq!(stage(Some(at(2026, 10, 25))), LifecycleStage::AtRisk); // 30 days ago
    assert_eq!(stage(Some(at(2026, 10, 24))), LifecycleStage::Churned); // 31 days ago
    assert_eq!(stage(None), LifecycleStage::Churned);
    // First seen 6 days 23 hours ago: new, whatever the activity; 7 days: not new.
    let recent = now - Duration::days(7) + Duration::hours(1);
    assert_eq!(lifecycle_stage(recent, None, now), LifecycleStage::New);
    let week = now - Duration::days(7);
    assert_eq!(lifecycle_stage(week, None, now), LifecycleStage::Churned);
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
    let a = Analytics::compute(Some(&stats), at(2026, 1, 1), at(2026, 11, 24));
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
