//! Worked examples for every rule of SPEC §6, and property tests: any order, duplication or split
//! of the same logs gives the same progress, equal to a simple day-by-day reference.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn log(id: &str, at: &str, value: &str) -> CountedLog {
    CountedLog {
        id: id.into(),
        activity_at: utc(at),
        value: dec(value),
    }
}

fn daily_streak(tz: Tz, period_target: &str, completion_target: u32) -> StreakRule {
    StreakRule {
        aggregation: Aggregation {
            method: AggregationMethod::Sum,
            period: PeriodKind::Daily,
            tz,
        },
        period_target: dec(period_target),
        completion_target,
    }
}

fn summary(runs: &[StreakRun]) -> Vec<(String, StreakStatus, u32)> {
    runs.iter()
        .map(|r| (r.run_key.clone(), r.status, r.completed_periods))
        .collect()
}

#[test]
fn a_gap_breaks_a_run_and_a_backfill_heals_it() {
    let rule = daily_streak(Tz::UTC, "1", 10);
    let now = utc("2026-11-06T12:00:00Z");
    let mut logs = vec![
        log("a", "2026-11-01T10:00:00Z", "1"),
        log("b", "2026-11-02T10:00:00Z", "1"),
        // 2026-11-03: nothing
        log("c", "2026-11-04T10:00:00Z", "1"),
        log("d", "2026-11-05T10:00:00Z", "1"),
    ];
    let runs = streak_runs(&rule, &logs, now);
    assert_eq!(
        summary(&runs),
        [
            ("2026-11-01".to_string(), StreakStatus::Broken, 2),
            ("2026-11-04".to_string(), StreakStatus::InProgress, 2),
        ]
    );
    assert_eq!(
        runs[0].broken_at,
        Some(utc("2026-11-04T00:00:00Z")),
        "the end of the missed day"
    );
    assert_eq!(runs[0].started_at, utc("2026-11-01T10:00:00Z"));
    assert_eq!(
        runs[1].breaks_at,
        Some(utc("2026-11-07T00:00:00Z")),
        "waits on the 6th"
    );
    assert_eq!(runs[1].task.period_key, "2026-11-06");

    logs.push(log("backfill", "2026-11-03T23:59:00Z", "1"));
    let healed = streak_runs(&rule, &logs, now);
    assert_eq!(
        summary(&healed),
        [("2026-11-01".to_string(), StreakStatus::InProgress, 5)]
    );
}

#[test]
fn a_partial_day_does_not_complete_and_breaks_when_it_ends() {
    let rule = daily_streak(Tz::UTC, "10", 3);
    let logs = vec![
        log("a", "2026-11-01T10:00:00Z", "4"),
        log("b", "2026-11-01T11:00:00Z", "5"),
    ];
    let during = streak_runs(&rule, &logs, utc("2026-11-01T20:00:00Z"));
    assert_eq!(
        summary(&during),
        [("2026-11-01".to_string(), StreakStatus::InProgress, 0)]
    );
    assert_eq!(during[0].task.current_value, dec("9"));
    let after = streak_runs(&rule, &logs, utc("2026-11-02T00:00:00Z"));
    assert_eq!(after[0].status, StreakStatus::Broken);
    assert_eq!(after[0].broken_at, Some(utc("2026-11-02T00:00:00Z")));
}

#[test]
fn a_completed_streak_is_followed_by_a_new_run() {
    let rule = daily_streak(Tz::UTC, "1", 2);
    let logs = vec![
        log("a", "2026-11-01T10:00:00Z", "1"),
        log("b", "2026-11-02T09:00:00Z", "1"),
        log("b2", "2026-11-02T18:00:00Z", "1"), // same day as the completion: still the first run
        log("c", "2026-11-03T10:00:00Z", "1"),
    ];
    let runs = streak_runs(&rule, &logs, utc("2026-11-03T12:00:00Z"));
    assert_eq!(
        summary(&runs),
        [
            ("2026-11-01".to_string(), StreakStatus::Completed, 2),
            ("2026-11-03".to_string(), StreakStatus::InProgress, 1),
        ]
    );
    assert_eq!(
        runs[0].completed_at,
        Some(utc("2026-11-02T09:00:00Z")),
        "activityAt of the completing log"
    );
}

#[test]
fn reads_reflect_the_clock() {
    let rule = daily_streak(Tz::UTC, "1", 5);
    let logs = vec![log("a", "2026-11-01T10:00:00Z", "1")];
    let stored = streak_runs(&rule, &logs, utc("2026-11-01T12:00:00Z"));
    assert_eq!(stored[0].status, StreakStatus::InProgress);
    // No log on the 2nd: read on the 3rd, the run is broken at the end of the 2nd.
    let read = stored[0].as_of(utc("2026-11-03T08:00:00Z"));
    assert_eq!(
        (read.status, read.broken_at),
        (StreakStatus::Broken, Some(utc("2026-11-03T00:00:00Z")))
    );
    assert_eq!(
        stored[0].as_of(utc("2026-11-02T23:59:59Z")).status,
        StreakStatus::InProgress
    );
}

#[test]
fn daily_streak_in_new_york_across_both_dst_changes() {
    let rule = daily_streak(Tz::America__New_York, "1", 3);
    // Late-evening local logs, whose UTC date is the next day, on the days around each change.
    let spring = vec![
        log("s1", "2026-03-08T03:30:00Z", "1"), // Sat 7th 22:30 EST
        log("s2", "2026-03-09T02:30:00Z", "1"), // Sun 8th 22:30 EDT (the 23-hour day)
        log("s3", "2026-03-10T02:30:00Z", "1"), // Mon 9th 22:30 EDT
    ];
    let runs = streak_runs(&rule, &spring, utc("2026-03-10T12:00:00Z"));
    assert_eq!(
        summary(&runs),
        [("2026-03-07".to_string(), StreakStatus::Completed, 3)]
    );
    let fall = vec![
        log("f1", "2026-11-01T03:30:00Z", "1"), // Sat Oct 31st 23:30 EDT
        log("f2", "2026-11-02T04:30:00Z", "1"), // Sun Nov 1st 23:30 EST (the 25-hour day)
        log("f3", "2026-11-03T04:30:00Z", "1"), // Mon 2nd 23:30 EST
    ];
    let runs = streak_runs(&rule, &fall, utc("2026-11-03T12:00:00Z"));
    assert_eq!(
        summary(&runs),
        [("2026-10-31".to_string(), StreakStatus::Completed, 3)]
    );
    let days: Vec<_> = runs[0]
        .completions
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        days,
        ["2026-10-31", "2026-11-01", "2026-11-02"],
        "local days, not UTC days"
    );
    // Two logs 24 hours apart on the 25-hour day are both on Nov 1st local: one period, not two.
    let same_day = vec![
        log("x", "2026-11-01T04:30:00Z", "1"),
        log("y", "2026-11-02T04:29:00Z", "1"),
    ];
    let runs = streak_runs(&rule, &same_day, utc("2026-11-02T04:45:00Z")); // 23:45 EST on Nov 1st
    assert_eq!(runs[0].completions.len(), 1);
    assert_eq!(
        runs[0].task.period_end - runs[0].task.period_start,
        Duration::hours(25)
    );
}

#[test]
fn weekly_streak_across_iso_week_53() {
    let rule = StreakRule {
        aggregation: Aggregation {
            method: AggregationMethod::Count,
            period: PeriodKind::Weekly,
            tz: Tz::UTC,
        },
        period_target: dec("2"),
        completion_target: 3,
    };
    let logs = vec![
        log("a", "2026-12-21T10:00:00Z", "0"), // 2026-W52
        log("b", "2026-12-27T10:00:00Z", "0"),
        log("c", "2026-12-28T10:00:00Z", "0"), // 2026-W53
        log("d", "2027-01-03T10:00:00Z", "0"),
        log("e", "2027-01-04T10:00:00Z", "0"), // 2027-W01
        log("f", "2027-01-05T10:00:00Z", "0"),
    ];
    let runs = streak_runs(&rule, &logs, utc("2027-01-06T00:00:00Z"));
    assert_eq!(
        summary(&runs),
        [("2026-W52".to_string(), StreakStatus::Completed, 3)]
    );
    let keys: Vec<_> = runs[0]
        .completions
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(keys, ["2026-W52", "2026-W53", "2027-W01"]);
}

#[test]
fn decimal_sums_are_exact() {
    let rule = daily_streak(Tz::UTC, "0.3", 1);
    let logs = vec![
        log("a", "2026-11-01T10:00:00Z", "0.1"),
        log("b", "2026-11-01T11:00:00Z", "0.2"),
    ];
    let runs = streak_runs(&rule, &logs, utc("2026-11-01T12:00:00Z"));
    assert_eq!(
        runs[0].status,
        StreakStatus::Completed,
        "0.1 + 0.2 reaches 0.3"
    );
    assert_eq!(runs[0].task.current_value, dec("0.3"));
    assert_eq!(runs[0].completed_at, Some(utc("2026-11-01T11:00:00Z")));
}

fn challenge(target: &str) -> ChallengeRule {
    ChallengeRule {
        aggregation: Aggregation {
            method: AggregationMethod::Sum,
            period: PeriodKind::Weekly,
            tz: Tz::UTC,
        },
        target: dec(target),
    }
}

#[test]
fn a_challenge_window_fails_after_it_ends_without_another_log() {
    let rule = challenge("100");
    let logs = vec![log("a", "2026-11-24T10:00:00Z", "40")];
    let during = challenge_windows(&rule, &logs, utc("2026-11-25T00:00:00Z"));
    assert_eq!(
        (during[0].window_key.as_str(), during[0].status),
        ("2026-W48", ChallengeStatus::InProgress)
    );
    // Week 48 ends Monday 2026-11-30 00:00 UTC.
    let after = during[0].as_of(utc("2026-11-30T00:00:01Z"));
    assert_eq!(after.status, ChallengeStatus::Failed);
    assert_eq!(after.failed_at, Some(utc("2026-11-30T00:00:00Z")));
}

#[test]
fn challenge_windows_complete_and_the_next_starts_fresh() {
    let rule = challenge("100");
    let logs = vec![
        log("a", "2026-11-24T10:00:00Z", "60"),
        log("b", "2026-11-26T10:00:00Z", "50"),
        log("c", "2026-12-01T10:00:00Z", "10"),
    ];
    let windows = challenge_windows(&rule, &logs, utc("2026-12-01T12:00:00Z"));
    assert_eq!(windows.len(), 2);
    assert_eq!(
        (windows[0].status, windows[0].value),
        (ChallengeStatus::Completed, dec("110"))
    );
    assert_eq!(windows[0].completed_at, Some(utc("2026-11-26T10:00:00Z")));
    assert_eq!(
        (windows[1].window_key.as_str(), windows[1].value),
        ("2026-W49", dec("10"))
    );
    assert_eq!(windows[1].status, ChallengeStatus::InProgress);

    let milestones = [
        MilestoneRule {
            id: "m50".into(),
            target: dec("50"),
        },
        MilestoneRule {
            id: "m200".into(),
            target: dec("200"),
        },
    ];
    let crossings = challenge_crossings(&rule, &logs, &milestones);
    assert_eq!(crossings.len(), 1, "{crossings:?}");
    assert_eq!(
        (
            crossings[0].milestone_id.as_str(),
            crossings[0].period_key.as_str()
        ),
        ("m50", "2026-W48")
    );
    assert_eq!(crossings[0].reached_at, utc("2026-11-24T10:00:00Z"));
}

#[test]
fn streak_milestones_count_completed_periods_once_per_run() {
    let rule = daily_streak(Tz::UTC, "1", 3);
    let logs: Vec<_> = (1..=7)
        .filter(|d| *d != 4)
        .map(|d| log(&format!("l{d}"), &format!("2026-11-0{d}T10:00:00Z"), "1"))
        .collect();
    let runs = streak_runs(&rule, &logs, utc("2026-11-07T12:00:00Z"));
    assert_eq!(
        summary(&runs),
        [
            ("2026-11-01".to_string(), StreakStatus::Completed, 3),
            ("2026-11-05".to_string(), StreakStatus::Completed, 3),
        ]
    );
    let milestones = [
        MilestoneRule {
            id: "two".into(),
            target: dec("2"),
        },
        MilestoneRule {
            id: "five".into(),
            target: dec("5"),
        },
    ];
    let crossings = streak_crossings(&runs, &milestones);
    let got: Vec<_> = crossings
        .iter()
        .map(|c| (c.progress_key.as_str(), c.period_key.as_str()))
        .collect();
    assert_eq!(
        got,
        [("2026-11-01", "2026-11-02"), ("2026-11-05", "2026-11-06")]
    );
}

// ---- properties ----

/// A deliberately naive reference for UTC daily streaks: totals per calendar day in a map, then a
/// walk over every day from the first log to `now`, one state machine step per day.
fn reference_runs(
    logs: &[CountedLog],
    target: Decimal,
    completion: u32,
    method: AggregationMethod,
    now: DateTime<Utc>,
) -> Vec<(String, StreakStatus, u32)> {
    let mut ids = std::collections::HashSet::new();
    let mut per_day: std::collections::HashMap<NaiveDate, Decimal> = Default::default();
    for l in logs {
        if ids.insert(l.id.clone()) {
            let add = if method == AggregationMethod::Count {
                Decimal::ONE
            } else {
                l.value
            };
            *per_day.entry(l.activity_at.date_naive()).or_default() += add;
        }
    }
    let Some(first) = per_day.keys().min().copied() else {
        return vec![];
    };
    let today = now.date_naive();
    let mut out: Vec<(String, StreakStatus, u32)> = Vec::new();
    let mut open: Option<(String, u32)> = None;
    let mut day = first;
    let last = per_day.keys().max().copied().unwrap().max(today);
    while day <= last {
        let done = per_day.get(&day).is_some_and(|v| *v >= target);
        let active = per_day.contains_key(&day);
        match open.take() {
            None if active => {
                // A run starts on a day with activity and is judged on that same day.
                open = Some((day.format("%Y-%m-%d").to_string(), 0));
                continue;
            }
            None => {}
            Some((key, n)) if done => {
                if n + 1 >= completion {
                    out.push((key, StreakStatus::Completed, n + 1));
                } else {
                    open = Some((key, n + 1));
                }
            }
            Some((key, n)) => {
                let ended = day < today || per_day.keys().any(|d| *d > day);
                if ended {
                    out.push((key, StreakStatus::Broken, n));
                } else {
                    out.push((key, StreakStatus::InProgress, n));
                    return out;
                }
            }
        }
        day = day.succ_opt().unwrap();
    }
    if let Some((key, n)) = open {
        out.push((key, StreakStatus::InProgress, n));
    }
    out
}

fn arb_logs() -> impl Strategy<Value = Vec<CountedLog>> {
    // Up to 40 logs over 20 days, values 0.0–3.0 in tenths, at any minute of the day.
    prop::collection::vec((0i64..20, 0i64..1440, 0u32..31), 0..40).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (day, minute, tenths))| CountedLog {
                id: format!("log-{i}"),
                activity_at: utc("2026-11-01T00:00:00Z")
                    + Duration::days(day)
                    + Duration::minutes(minute),
                value: Decimal::new(i64::from(tenths), 1),
            })
            .collect()
    })
}

fn shuffled_with_duplicates(logs: &[CountedLog], seed: u64) -> Vec<CountedLog> {
    let mut out: Vec<CountedLog> = logs
        .iter()
        .cloned()
        .chain(logs.iter().step_by(3).cloned())
        .collect();
    // A seeded Fisher–Yates shuffle.
    let mut state = seed | 1;
    for i in (1..out.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.swap(i, (state % (i as u64 + 1)) as usize);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn streaks_depend_only_on_the_set_of_logs(logs in arb_logs(), seed in any::<u64>(), now_day in 0i64..25,
                                              target_tenths in 1i64..40, completion in 1u32..6, count in any::<bool>()) {
        let now = utc("2026-11-01T12:00:00Z") + Duration::days(now_day);
        let method = if count { AggregationMethod::Count } else { AggregationMethod::Sum };
        let target = Decimal::new(target_tenths, 1);
        let rule = StreakRule {
            aggregation: Aggregation { method, period: PeriodKind::Daily, tz: Tz::UTC },
            period_target: target,
            completion_target: completion,
        };
        let base = streak_runs(&rule, &logs, now);
        let mixed = streak_runs(&rule, &shuffled_with_duplicates(&logs, seed), now);
        prop_assert_eq!(&base, &mixed);
        let milestones = [MilestoneRule { id: "m".into(), target: Decimal::from(completion.min(2)) }];
        prop_assert_eq!(streak_crossings(&base, &milestones), streak_crossings(&mixed, &milestones));
        // Logs in the future of `now` cannot exist (the API refuses them); the reference models the past.
        let past: Vec<_> = logs.iter().filter(|l| l.activity_at <= now).cloned().collect();
        prop_assert_eq!(summary(&streak_runs(&rule, &past, now)), reference_runs(&past, target, completion, method, now));
    }

    #[test]
    fn challenges_depend_only_on_the_set_of_logs(logs in arb_logs(), seed in any::<u64>(), now_day in 0i64..25, target_tenths in 1i64..80) {
        let now = utc("2026-11-01T12:00:00Z") + Duration::days(now_day);
        let rule = ChallengeRule {
            aggregation: Aggregation { method: AggregationMethod::Sum, period: PeriodKind::Weekly, tz: Tz::Europe__Berlin },
            target: Decimal::new(target_tenths, 1),
        };
        let mixed = shuffled_with_duplicates(&logs, seed);
        prop_assert_eq!(challenge_windows(&rule, &logs, now), challenge_windows(&rule, &mixed, now));
        let milestones = [MilestoneRule { id: "m".into(), target: Decimal::new(target_tenths, 2) }];
        prop_assert_eq!(challenge_crossings(&rule, &logs, &milestones), challenge_crossings(&rule, &mixed, &milestones));
        // Reference: one window per ISO week with activity; value = plain sum of unique logs.
        let mut sums: std::collections::BTreeMap<String, Decimal> = Default::default();
        for l in &logs {
            let local = l.activity_at.with_timezone(&Tz::Europe__Berlin).date_naive();
            let w = local.iso_week();
            *sums.entry(format!("{}-W{:02}", w.year(), w.week())).or_default() += l.value;
        }
        let got: std::collections::BTreeMap<String, Decimal> =
            challenge_windows(&rule, &logs, now).into_iter().map(|w| (w.window_key, w.value)).collect();
        prop_assert_eq!(got, sums);
    }
}
