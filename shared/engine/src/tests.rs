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
        at_risk_lead: chrono::Duration::zero(),
        freezes: FreezeRule::default(),
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
    let runs = streak_runs(&rule, &logs, &[], now);
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
    let healed = streak_runs(&rule, &logs, &[], now);
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
    let during = streak_runs(&rule, &logs, &[], utc("2026-11-01T20:00:00Z"));
    assert_eq!(
        summary(&during),
        [("2026-11-01".to_string(), StreakStatus::InProgress, 0)]
    );
    assert_eq!(during[0].task.current_value, dec("9"));
    let after = streak_runs(&rule, &logs, &[], utc("2026-11-02T00:00:00Z"));
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
    let runs = streak_runs(&rule, &logs, &[], utc("2026-11-03T12:00:00Z"));
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
    let stored = streak_runs(&rule, &logs, &[], utc("2026-11-01T12:00:00Z"));
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
    let runs = streak_runs(&rule, &spring, &[], utc("2026-03-10T12:00:00Z"));
    assert_eq!(
        summary(&runs),
        [("2026-03-07".to_string(), StreakStatus::Completed, 3)]
    );
    let fall = vec![
        log("f1", "2026-11-01T03:30:00Z", "1"), // Sat Oct 31st 23:30 EDT
        log("f2", "2026-11-02T04:30:00Z", "1"), // Sun Nov 1st 23:30 EST (the 25-hour day)
        log("f3", "2026-11-03T04:30:00Z", "1"), // Mon 2nd 23:30 EST
    ];
    let runs = streak_runs(&rule, &fall, &[], utc("2026-11-03T12:00:00Z"));
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
    let runs = streak_runs(&rule, &same_day, &[], utc("2026-11-02T04:45:00Z")); // 23:45 EST on Nov 1st
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
        at_risk_lead: chrono::Duration::zero(),
        freezes: FreezeRule::default(),
    };
    let logs = vec![
        log("a", "2026-12-21T10:00:00Z", "0"), // 2026-W52
        log("b", "2026-12-27T10:00:00Z", "0"),
        log("c", "2026-12-28T10:00:00Z", "0"), // 2026-W53
        log("d", "2027-01-03T10:00:00Z", "0"),
        log("e", "2027-01-04T10:00:00Z", "0"), // 2027-W01
        log("f", "2027-01-05T10:00:00Z", "0"),
    ];
    let runs = streak_runs(&rule, &logs, &[], utc("2027-01-06T00:00:00Z"));
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
    let runs = streak_runs(&rule, &logs, &[], utc("2026-11-01T12:00:00Z"));
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
    let runs = streak_runs(&rule, &logs, &[], utc("2026-11-07T12:00:00Z"));
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

// ---- the clock's rules: freezes and at-risk (SPEC §10) ----

fn with_freezes(mut rule: StreakRule, max: u32, earn_every: Option<u32>) -> StreakRule {
    rule.freezes = FreezeRule { max, earn_every };
    rule
}

fn grant(id: &str, at: &str, count: u32) -> FreezeGrant {
    CountedLog {
        id: id.into(),
        activity_at: utc(at),
        value: Decimal::from(count),
    }
}

fn daily_logs(days: &[u32]) -> Vec<CountedLog> {
    days.iter()
        .map(|d| log(&format!("d{d}"), &format!("2026-11-{d:02}T10:00:00Z"), "1"))
        .collect()
}

#[test]
fn a_freeze_is_earned_exactly_at_every_nth_completed_period() {
    let rule = with_freezes(daily_streak(Tz::UTC, "1", 30), 2, Some(3));
    let now = utc("2026-11-03T12:00:00Z");
    let two = streak_runs(&rule, &daily_logs(&[1, 2]), &[], now);
    assert_eq!((two[0].freezes_earned, two[0].freezes_available), (0, 0));
    let three = streak_runs(&rule, &daily_logs(&[1, 2, 3]), &[], now);
    assert_eq!(
        (three[0].freezes_earned, three[0].freezes_available),
        (1, 1)
    );
    // Nine periods earn three, but a member holds at most two.
    let nine = streak_runs(
        &rule,
        &daily_logs(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        &[],
        utc("2026-11-09T12:00:00Z"),
    );
    assert_eq!((nine[0].freezes_earned, nine[0].freezes_available), (2, 2));
}

#[test]
fn grants_are_capped_at_max_freezes_and_none_are_kept_without_freezes() {
    let rule = with_freezes(daily_streak(Tz::UTC, "1", 30), 2, None);
    let now = utc("2026-11-01T12:00:00Z");
    let grants = [grant("g1", "2026-11-01T09:00:00Z", 5)];
    let runs = streak_runs(&rule, &daily_logs(&[1]), &grants, now);
    assert_eq!(runs[0].freezes_available, 2);
    let none = daily_streak(Tz::UTC, "1", 30);
    let runs = streak_runs(&none, &daily_logs(&[1]), &grants, now);
    assert_eq!(runs[0].freezes_available, 0);
}

#[test]
fn one_freeze_keeps_a_run_over_one_missed_day_and_the_second_breaks_it() {
    let rule = with_freezes(daily_streak(Tz::UTC, "1", 30), 3, None);
    let grants = [grant("g1", "2026-11-01T09:00:00Z", 1)];
    // Missed the 3rd, logged the 4th: the 3rd is frozen, the run goes on with 3 completed.
    let runs = streak_runs(
        &rule,
        &daily_logs(&[1, 2, 4]),
        &grants,
        utc("2026-11-04T12:00:00Z"),
    );
    assert_eq!(
        summary(&runs),
        [("2026-11-01".to_string(), StreakStatus::InProgress, 3)]
    );
    assert_eq!(runs[0].frozen_periods, ["2026-11-03"]);
    assert_eq!(runs[0].freezes_available, 0);
    assert_eq!(runs[0].breaks_at, Some(utc("2026-11-06T00:00:00Z")));
    // Missed the 3rd and the 4th: the 3rd is frozen, the 4th breaks the run at its end.
    let runs = streak_runs(
        &rule,
        &daily_logs(&[1, 2]),
        &grants,
        utc("2026-11-05T12:00:00Z"),
    );
    assert_eq!(
        summary(&runs),
        [("2026-11-01".to_string(), StreakStatus::Broken, 2)]
    );
    assert_eq!(runs[0].frozen_periods, ["2026-11-03"]);
    assert_eq!(runs[0].broken_at, Some(utc("2026-11-05T00:00:00Z")));
    // While the 4th is still open, the run waits on it with the 3rd frozen.
    let during = streak_runs(
        &rule,
        &daily_logs(&[1, 2]),
        &grants,
        utc("2026-11-04T12:00:00Z"),
    );
    assert_eq!(during[0].status, StreakStatus::InProgress);
    assert_eq!(during[0].breaks_at, Some(utc("2026-11-05T00:00:00Z")));
}

#[test]
fn a_freeze_counts_only_if_held_before_the_period_ended_and_only_for_a_run_with_a_completion() {
    let rule = with_freezes(daily_streak(Tz::UTC, "1", 30), 3, None);
    let now = utc("2026-11-04T12:00:00Z");
    let late = [grant("g1", "2026-11-04T00:00:00Z", 1)];
    let runs = streak_runs(&rule, &daily_logs(&[1, 2]), &late, now);
    assert_eq!(
        runs[0].status,
        StreakStatus::Broken,
        "granted at the end itself"
    );
    assert_eq!(runs[0].freezes_available, 0);
    let early = [grant("g1", "2026-11-01T00:00:00Z", 1)];
    // A run whose only period ended incomplete has nothing to keep.
    let partial = vec![log("p", "2026-11-01T10:00:00Z", "0.5")];
    let runs = streak_runs(
        &with_freezes(daily_streak(Tz::UTC, "1", 30), 3, None),
        &partial,
        &early,
        now,
    );
    assert_eq!(runs[0].status, StreakStatus::Broken);
    assert_eq!(runs[0].freezes_available, 1, "the freeze is still held");
}

#[test]
fn a_backfill_into_a_frozen_period_gives_the_freeze_back() {
    let rule = with_freezes(daily_streak(Tz::UTC, "1", 30), 3, None);
    let grants = [grant("g1", "2026-11-01T09:00:00Z", 1)];
    let now = utc("2026-11-04T12:00:00Z");
    let frozen = streak_runs(&rule, &daily_logs(&[1, 2, 4]), &grants, now);
    assert_eq!(frozen[0].frozen_periods, ["2026-11-03"]);
    let healed = streak_runs(&rule, &daily_logs(&[1, 2, 3, 4]), &grants, now);
    assert!(healed[0].frozen_periods.is_empty());
    assert_eq!(
        (healed[0].completed_periods, healed[0].freezes_available),
        (4, 1)
    );
}

#[test]
fn at_risk_is_the_lead_before_the_awaited_periods_end_in_the_members_zone() {
    let mut rule = daily_streak(Tz::America__New_York, "1", 30);
    rule.at_risk_lead = Duration::minutes(240);
    // 2026-11-01 is 25 hours long in New York (clocks fall back); the run awaits it.
    let logs = vec![log("a", "2026-10-31T14:00:00Z", "1")];
    let runs = streak_runs(&rule, &logs, &[], utc("2026-11-01T12:00:00Z"));
    assert_eq!(runs[0].breaks_at, Some(utc("2026-11-02T05:00:00Z")));
    assert_eq!(runs[0].at_risk_at, Some(utc("2026-11-02T01:00:00Z")));
    // 24 hours before the end of a 25-hour day is an hour after it began; on a 23-hour day
    // (2026-03-08) the risk starts with the period.
    rule.at_risk_lead = Duration::minutes(1440);
    let runs = streak_runs(&rule, &logs, &[], utc("2026-11-01T12:00:00Z"));
    assert_eq!(runs[0].at_risk_at, Some(utc("2026-11-01T05:00:00Z")));
    let spring = vec![log("s", "2026-03-07T15:00:00Z", "1")];
    let runs = streak_runs(&rule, &spring, &[], utc("2026-03-08T12:00:00Z"));
    assert_eq!(runs[0].breaks_at, Some(utc("2026-03-09T04:00:00Z")));
    assert_eq!(runs[0].at_risk_at, Some(utc("2026-03-08T05:00:00Z")));
    // Off at 0.
    rule.at_risk_lead = Duration::zero();
    let runs = streak_runs(&rule, &logs, &[], utc("2026-11-01T12:00:00Z"));
    assert_eq!(runs[0].at_risk_at, None);
    // A run that began after the moment was never at risk in that period.
    rule.at_risk_lead = Duration::minutes(60);
    let late = vec![log("b", "2026-11-02T04:30:00Z", "0.5")];
    let runs = streak_runs(&rule, &late, &[], utc("2026-11-02T04:40:00Z"));
    assert_eq!(runs[0].at_risk_at, None);
}

#[test]
fn a_freeze_on_a_dst_day_moves_the_deadline_to_the_next_local_midnight() {
    let rule = with_freezes(daily_streak(Tz::America__New_York, "1", 30), 1, None);
    let grants = [grant("g1", "2026-10-30T14:00:00Z", 1)];
    // Completed Oct 30 and 31 (local), missed Nov 1 (25 hours): frozen; awaits Nov 2.
    let logs = vec![
        log("a", "2026-10-30T14:00:00Z", "1"),
        log("b", "2026-10-31T14:00:00Z", "1"),
    ];
    let runs = streak_runs(&rule, &logs, &grants, utc("2026-11-02T12:00:00Z"));
    assert_eq!(runs[0].frozen_periods, ["2026-11-01"]);
    assert_eq!(runs[0].status, StreakStatus::InProgress);
    assert_eq!(runs[0].breaks_at, Some(utc("2026-11-03T05:00:00Z")));
}

// ---- properties ----

/// A deliberately naive reference for UTC daily streaks: each day's logs in a map, then a walk
/// over every day from the first log to `now`, one state machine step per day, with the freezes
/// held as a plain counter (grants taken before each moment, capped).
#[allow(clippy::too_many_arguments)]
fn reference_runs(
    logs: &[CountedLog],
    grants: &[FreezeGrant],
    target: Decimal,
    completion: u32,
    method: AggregationMethod,
    freezes: FreezeRule,
    now: DateTime<Utc>,
) -> Vec<(String, StreakStatus, u32, usize, u32)> {
    let mut ids = std::collections::HashSet::new();
    let mut per_day: std::collections::BTreeMap<NaiveDate, Vec<(DateTime<Utc>, String, Decimal)>> =
        Default::default();
    for l in logs {
        if ids.insert(l.id.clone()) {
            let add = if method == AggregationMethod::Count {
                Decimal::ONE
            } else {
                l.value
            };
            per_day
                .entry(l.activity_at.date_naive())
                .or_default()
                .push((l.activity_at, l.id.clone(), add));
        }
    }
    let mut grant_ids = std::collections::HashSet::new();
    let mut grants: Vec<(DateTime<Utc>, String, u32)> = grants
        .iter()
        .filter(|g| grant_ids.insert(g.id.clone()))
        .map(|g| {
            (
                g.activity_at,
                g.id.clone(),
                g.value.to_string().parse().unwrap(),
            )
        })
        .collect();
    grants.sort();
    let mut held = 0u32;
    let mut taken = 0usize;
    let mut take_before = |at: DateTime<Utc>, held: &mut u32| {
        while taken < grants.len() && grants[taken].0 < at {
            *held = (*held + grants[taken].2).min(freezes.max);
            taken += 1;
        }
    };
    // When a day's running total first reaches the target.
    let done_at = |day: &NaiveDate| {
        let mut entries = per_day.get(day)?.clone();
        entries.sort();
        let mut total = Decimal::ZERO;
        entries.into_iter().find_map(|(at, _, add)| {
            total += add;
            (total >= target).then_some(at)
        })
    };
    let Some(first) = per_day.keys().next().copied() else {
        return vec![];
    };
    let today = now.date_naive();
    let end_of = |day: NaiveDate| {
        day.succ_opt()
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    };
    let mut out = Vec::new();
    // (key, completed, frozen)
    let mut open: Option<(String, u32, usize)> = None;
    let mut day = first;
    let last = per_day.keys().max().copied().unwrap().max(today);
    while day <= last {
        let active = per_day.contains_key(&day);
        match open.take() {
            None if active => {
                // A run starts on a day with activity and is judged on that same day.
                open = Some((day.format("%Y-%m-%d").to_string(), 0, 0));
                continue;
            }
            None => {}
            Some((key, n, frozen)) => match done_at(&day) {
                Some(at) => {
                    take_before(at, &mut held);
                    let n = n + 1;
                    if freezes.earn_every.is_some_and(|e| n.is_multiple_of(e)) && held < freezes.max
                    {
                        held += 1;
                    }
                    if n >= completion {
                        out.push((key, StreakStatus::Completed, n, frozen, held));
                    } else {
                        open = Some((key, n, frozen));
                    }
                }
                None => {
                    let ended = day < today || per_day.keys().any(|d| *d > day);
                    if !ended {
                        take_before(now + Duration::milliseconds(1), &mut held);
                        out.push((key, StreakStatus::InProgress, n, frozen, held));
                        return out;
                    }
                    take_before(end_of(day), &mut held);
                    if n > 0 && held > 0 {
                        held -= 1;
                        open = Some((key, n, frozen + 1));
                    } else {
                        out.push((key, StreakStatus::Broken, n, frozen, held));
                    }
                }
            },
        }
        day = day.succ_opt().unwrap();
    }
    if let Some((key, n, frozen)) = open {
        take_before(now + Duration::milliseconds(1), &mut held);
        out.push((key, StreakStatus::InProgress, n, frozen, held));
    }
    out
}

fn freeze_summary(runs: &[StreakRun]) -> Vec<(String, StreakStatus, u32, usize, u32)> {
    runs.iter()
        .map(|r| {
            (
                r.run_key.clone(),
                r.status,
                r.completed_periods,
                r.frozen_periods.len(),
                r.freezes_available,
            )
        })
        .collect()
}

fn arb_grants() -> impl Strategy<Value = Vec<FreezeGrant>> {
    // Up to 4 grants of 1–3 freezes over the same 20 days.
    prop::collection::vec((0i64..20, 0i64..1440, 1u32..4), 0..5).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (day, minute, count))| CountedLog {
                id: format!("grant-{i}"),
                activity_at: utc("2026-11-01T00:00:00Z")
                    + Duration::days(day)
                    + Duration::minutes(minute),
                value: Decimal::from(count),
            })
            .collect()
    })
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
    fn streaks_depend_only_on_the_sets_of_logs_and_grants(logs in arb_logs(), grants in arb_grants(), seed in any::<u64>(), now_day in 0i64..25,
                                              target_tenths in 1i64..40, completion in 1u32..6, count in any::<bool>(),
                                              max in 0u32..4, earn_every in prop::option::of(1u32..4)) {
        let now = utc("2026-11-01T12:00:00Z") + Duration::days(now_day);
        let method = if count { AggregationMethod::Count } else { AggregationMethod::Sum };
        let target = Decimal::new(target_tenths, 1);
        let freezes = FreezeRule { max, earn_every };
        let rule = StreakRule {
            aggregation: Aggregation { method, period: PeriodKind::Daily, tz: Tz::UTC },
            period_target: target,
            completion_target: completion,
            at_risk_lead: chrono::Duration::minutes(240),
            freezes,
        };
        let base = streak_runs(&rule, &logs, &grants, now);
        let mixed = streak_runs(&rule, &shuffled_with_duplicates(&logs, seed), &shuffled_with_duplicates(&grants, seed ^ 7), now);
        prop_assert_eq!(&base, &mixed);
        let milestones = [MilestoneRule { id: "m".into(), target: Decimal::from(completion.min(2)) }];
        prop_assert_eq!(streak_crossings(&base, &milestones), streak_crossings(&mixed, &milestones));
        // Logs and grants in the future of `now` cannot exist (the API refuses them); the
        // reference models the past.
        let past: Vec<_> = logs.iter().filter(|l| l.activity_at <= now).cloned().collect();
        let past_grants: Vec<_> = grants.iter().filter(|g| g.activity_at <= now).cloned().collect();
        prop_assert_eq!(
            freeze_summary(&streak_runs(&rule, &past, &past_grants, now)),
            reference_runs(&past, &past_grants, target, completion, method, freezes, now)
        );
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
