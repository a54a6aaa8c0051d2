//! The stream processor through the real path: logs written by the log handler, read back from
//! DynamoDB Local's stream by the local poller, applied by the real processor handler.

mod common;

use chrono::{Duration, Utc};
use common::*;
use domain::log::LogKind;
use domain::program::ProgramKind;
use domain::time;
use serde_json::json;
use testkit::stream::StreamPoller;
use testkit::test_endpoint;

#[tokio::test]
async fn a_streak_completes_from_backfilled_logs_and_rewards_once() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "3 days", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 10})).await;
    w.program(ProgramKind::Milestone, json!({"name": "2 days", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 2, "rewardPoints": 50})).await;
    let member = w.member("ada", "live").await;
    for (i, n) in [5, 4, 3].into_iter().enumerate() {
        // Two logs of 5 make each day's 10.
        for part in 0..2 {
            let body = json!({"streakId": streak, "ownedById": "ada", "uniqueIdentifier": format!("o-{i}-{part}"), "activityValue": 5, "activityAt": days_ago(n)});
            assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
        }
    }
    w.drain().await;
    let progress = w.records(&member, "PROGRESS#").await;
    assert_eq!(
        summary(&progress),
        [(day_key(5), "completed".to_string(), 3)]
    );
    assert_eq!(
        progress[0]["streakCompletedAt"],
        format!("{}T12:00:00.000Z", day_key(3))
    );
    assert_eq!(progress[0]["ownedById"], member.as_str());
    let rewards = w.records(&member, "REWARD#").await;
    assert_eq!(rewards.len(), 1, "{rewards:?}");
    assert_eq!(
        rewards[0]["periodKey"],
        day_key(4),
        "the second completed day reached the milestone"
    );
    assert_eq!(rewards[0]["milestone"]["rewardPoints"], 50);
    let (entries, balance) = w.ledger(&member).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].reason.as_deref(), Some("reward"));
    assert_eq!(
        entries[0].reward_id,
        rewards[0]["id"].as_str().map(String::from)
    );
    assert_eq!(balance, "50", "the reward's points are credited");

    // The same batch again changes nothing.
    let before = (
        w.records(&member, "PROGRESS#").await,
        w.records(&member, "REWARD#").await,
    );
    let replay = StreamPoller::new(&w.store, &test_endpoint().await)
        .await
        .unwrap()
        .poll()
        .await
        .unwrap();
    w.process(replay.clone()).await;
    w.process(replay).await;
    let after = (
        w.records(&member, "PROGRESS#").await,
        w.records(&member, "REWARD#").await,
    );
    assert_eq!(before, after, "a replayed batch writes nothing");
    let (entries, balance) = w.ledger(&member).await;
    assert_eq!(
        (entries.len(), balance.as_str()),
        (1, "50"),
        "a replay credits nothing more"
    );
}

#[tokio::test]
async fn a_gap_breaks_the_run_and_a_backfill_joins_it() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "week", "status": "live", "completionTargetValue": 7, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    let member = w.member("bo", "live").await;
    for n in [6, 4, 3] {
        let body = json!({"streakId": streak, "ownedById": "bo", "uniqueIdentifier": format!("d{n}"), "activityAt": days_ago(n)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    }
    w.drain().await;
    let runs = summary(&w.records(&member, "PROGRESS#").await);
    assert_eq!(
        runs,
        [
            (day_key(6), "broken".to_string(), 1),
            (day_key(4), "broken".to_string(), 2)
        ]
    );

    let backfill = json!({"streakId": streak, "ownedById": "bo", "uniqueIdentifier": "d5", "activityAt": days_ago(5)});
    assert_eq!(w.log(LogKind::Streak, backfill).await.0, 201);
    w.drain().await;
    let runs = summary(&w.records(&member, "PROGRESS#").await);
    assert_eq!(
        runs,
        [(day_key(6), "broken".to_string(), 4)],
        "one run; the joined run's record is gone"
    );
}

#[tokio::test]
async fn copies_count_once_and_paused_members_never_count() {
    let mut w = World::new().await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "spend", "status": "live", "completionTargetValue": 100, "aggregationPeriod": "monthly"})).await;
    w.program(ProgramKind::Milestone, json!({"name": "50", "status": "live", "linkedSchemaSlug": "challenge", "linkedSchemaRecordId": challenge, "milestoneTargetValue": 50})).await;
    let member = w.member("cy", "live").await;
    let paused = w.member("di", "paused").await;
    let at = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let body = json!({"challengeId": challenge, "ownedById": "cy", "uniqueIdentifier": "order-1", "activityValue": 60, "activityAt": at});
    let copies =
        futures::future::join_all((0..10).map(|_| w.log(LogKind::Challenge, body.clone()))).await;
    assert_eq!(copies.iter().filter(|(s, _)| *s == 201).count(), 1);
    let paused_log = json!({"challengeId": challenge, "ownedById": "di", "uniqueIdentifier": "order-2", "activityValue": 500, "activityAt": at});
    assert_eq!(w.log(LogKind::Challenge, paused_log).await.0, 201);
    w.drain().await;

    let windows = w.records(&member, "PROGRESS#").await;
    assert_eq!(windows.len(), 1);
    assert_eq!(
        (
            windows[0]["currentProgressValue"].as_f64(),
            windows[0]["challengeProgressStatus"].as_str()
        ),
        (Some(60.0), Some("in_progress"))
    );
    assert_eq!(
        w.records(&member, "REWARD#").await.len(),
        1,
        "milestone 50 reached once"
    );
    assert!(
        w.records(&paused, "PROGRESS#").await.is_empty(),
        "a paused member's log never counts"
    );

    let more = json!({"challengeId": challenge, "ownedById": "cy", "uniqueIdentifier": "order-3", "activityValue": 40.5, "activityAt": at});
    assert_eq!(w.log(LogKind::Challenge, more).await.0, 201);
    w.drain().await;
    let windows = w.records(&member, "PROGRESS#").await;
    assert_eq!(
        (
            windows[0]["currentProgressValue"].as_f64(),
            windows[0]["challengeProgressStatus"].as_str()
        ),
        (Some(100.5), Some("completed"))
    );
    assert_eq!(w.records(&member, "REWARD#").await.len(), 1);
}

/// A log for today reads the current run, not the member's history: if it read the history it
/// would notice the older period items are gone and drop the older runs' records.
#[tokio::test]
async fn a_new_log_reads_only_the_current_run() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "pairs", "status": "live", "completionTargetValue": 2, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    let member = w.member("gu", "live").await;
    for n in [9, 8, 6, 5, 2] {
        let body = json!({"streakId": streak, "ownedById": "gu", "uniqueIdentifier": format!("h{n}"), "activityAt": days_ago(n)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    }
    w.drain().await;
    let before = summary(&w.records(&member, "PROGRESS#").await);
    assert_eq!(before.len(), 3, "{before:?}");
    // Remove the period items of the two completed runs.
    for n in [9, 8, 6, 5] {
        w.store
            .client()
            .delete_item()
            .table_name(w.store.table())
            .key(
                "PK",
                aws_sdk_dynamodb::types::AttributeValue::S(format!(
                    "{}#MEMBER#{member}",
                    w.tenant.key_prefix()
                )),
            )
            .key(
                "SK",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("AGG#{streak}#{}", day_key(n))),
            )
            .send()
            .await
            .unwrap();
    }
    let today = json!({"streakId": streak, "ownedById": "gu", "uniqueIdentifier": "h0", "activityAt": (Utc::now() - Duration::minutes(1)).to_rfc3339()});
    assert_eq!(w.log(LogKind::Streak, today).await.0, 201);
    w.drain().await;
    let after = summary(&w.records(&member, "PROGRESS#").await);
    assert_eq!(&after[..2], &before[..2], "older runs untouched");
    assert_eq!(
        after.len(),
        4,
        "the broken run of 2 days ago stays, today's run starts: {after:?}"
    );
}

/// A backfill that moves a rewarded run's start keeps the run's one reward; two runs that were
/// each rewarded before a backfill joined them keep both (rewards are never revoked).
#[tokio::test]
async fn backfills_do_not_reward_a_run_twice() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.program(ProgramKind::Milestone, json!({"name": "two", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 2})).await;
    let member = w.member("hu", "live").await;
    let log = |n: i64| json!({"streakId": streak, "ownedById": "hu", "uniqueIdentifier": format!("b{n}"), "activityAt": days_ago(n)});
    for n in [5, 4] {
        assert_eq!(w.log(LogKind::Streak, log(n)).await.0, 201);
    }
    w.drain().await;
    assert_eq!(w.records(&member, "REWARD#").await.len(), 1);
    // Day 6 extends the run at its front: its key changes, it is still the same run.
    assert_eq!(w.log(LogKind::Streak, log(6)).await.0, 201);
    w.drain().await;
    assert_eq!(
        summary(&w.records(&member, "PROGRESS#").await)[0],
        (day_key(6), "broken".to_string(), 3)
    );
    assert_eq!(
        w.records(&member, "REWARD#").await.len(),
        1,
        "one run, one reward"
    );

    // A second rewarded run, then the day that joins them.
    for n in [2, 1] {
        assert_eq!(w.log(LogKind::Streak, log(n)).await.0, 201);
    }
    w.drain().await;
    assert_eq!(w.records(&member, "REWARD#").await.len(), 2);
    assert_eq!(w.log(LogKind::Streak, log(3)).await.0, 201);
    w.drain().await;
    assert_eq!(
        summary(&w.records(&member, "PROGRESS#").await),
        [(day_key(6), "in_progress".to_string(), 6)]
    );
    assert_eq!(
        w.records(&member, "REWARD#").await.len(),
        2,
        "never revoked: the joined run keeps both"
    );
}

/// Every activity log is a sighting: `lastSeenAt` moves to the latest log, counted or not, and
/// never back (SPEC §3).
#[tokio::test]
async fn logs_move_last_seen_at_forward_only() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 1})).await;
    w.member("iv", "live").await;
    w.member("jo", "paused").await;
    let (store, tenant) = (w.store.clone(), w.tenant.clone());
    let seen = |external_id: &'static str| {
        let (store, tenant) = (store.clone(), tenant.clone());
        async move {
            store
                .member_by_external_id(&tenant, external_id)
                .await
                .unwrap()
                .unwrap()
                .last_seen_at
        }
    };
    assert_eq!(
        seen("iv").await,
        None,
        "created through /schema: not seen yet"
    );

    let (_, first) = w.log(LogKind::Streak, json!({"streakId": streak, "ownedById": "iv", "uniqueIdentifier": "s1", "activityValue": 1, "activityAt": days_ago(2)})).await;
    let (_, paused) = w.log(LogKind::Streak, json!({"streakId": streak, "ownedById": "jo", "uniqueIdentifier": "s2", "activityValue": 1, "activityAt": days_ago(2)})).await;
    w.drain().await;
    assert_eq!(
        seen("iv").await.map(|t| time::format(&t)),
        first["data"]["createdAt"].as_str().map(str::to_string)
    );
    assert_eq!(
        seen("jo").await.map(|t| time::format(&t)),
        paused["data"]["createdAt"].as_str().map(str::to_string),
        "a log that does not count is still a sighting"
    );

    let (_, second) = w.log(LogKind::Streak, json!({"streakId": streak, "ownedById": "iv", "uniqueIdentifier": "s3", "activityValue": 1, "activityAt": days_ago(3)})).await;
    let batches = w.drain().await;
    let latest = second["data"]["createdAt"].as_str().map(str::to_string);
    assert_eq!(
        seen("iv").await.map(|t| time::format(&t)),
        latest,
        "the latest log, whatever its activityAt"
    );
    // Replaying everything from the start does not move it back.
    w.poller = StreamPoller::new(&w.store, &test_endpoint().await)
        .await
        .unwrap();
    w.drain().await;
    assert!(!batches.is_empty());
    assert_eq!(seen("iv").await.map(|t| time::format(&t)), latest);
}

/// Lists are newest first (SPEC §3): progress records by the start of their run or window,
/// rewards by when they were reached, though their ids are derived from their keys.
#[tokio::test]
async fn progress_and_reward_lists_are_newest_first() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 5, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.program(ProgramKind::Milestone, json!({"name": "first", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 1})).await;
    let member = w.member("ny", "live").await;
    // Three runs (gaps between them), sent newest first.
    for n in [2, 6, 10, 12] {
        let body = json!({"streakId": streak, "ownedById": "ny", "uniqueIdentifier": format!("n{n}"), "activityAt": days_ago(n)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
        w.drain().await;
    }
    for (slug, time_field) in [
        // As stored: a run's `createdAt` is its start (the API view restores it).
        ("streak_progress", "streakStartedAt"),
        ("reward_log", "rewardIssuedAt"),
    ] {
        let (page, _) = w
            .store
            .list_kind::<serde_json::Value>(&w.tenant, slug, Some(&member), &[], 10, None)
            .await
            .unwrap();
        let times: Vec<&str> = page
            .iter()
            .map(|r| r[time_field].as_str().unwrap())
            .collect();
        assert_eq!(times.len(), 4, "{slug}: {page:?}");
        let mut newest_first = times.clone();
        newest_first.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, newest_first, "{slug}");
    }
}

/// The processor keeps the programs it read for the version logs name (`Program::version`): a
/// milestone added between two logs is a new version, so the second log is judged with it.
#[tokio::test]
async fn a_milestone_added_after_a_processed_log_counts_for_the_next_one() {
    let mut w = World::new().await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "spend", "status": "live", "completionTargetValue": 100, "aggregationPeriod": "monthly"})).await;
    let member = w.member("ev", "live").await;
    let at = || (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let body = json!({"challengeId": challenge, "ownedById": "ev", "uniqueIdentifier": "a", "activityValue": 10, "activityAt": at()});
    assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    w.drain().await;
    assert!(w.records(&member, "REWARD#").await.is_empty());

    w.program(ProgramKind::Milestone, json!({"name": "20", "status": "live", "linkedSchemaSlug": "challenge", "linkedSchemaRecordId": challenge, "milestoneTargetValue": 20, "rewardPoints": 5})).await;
    let body = json!({"challengeId": challenge, "ownedById": "ev", "uniqueIdentifier": "b", "activityValue": 20, "activityAt": at()});
    assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    w.drain().await;
    let rewards = w.records(&member, "REWARD#").await;
    assert_eq!(
        rewards.len(),
        1,
        "the new milestone was applied: {rewards:?}"
    );
}

/// A backfilled log that fills the day a run broke on heals it (SPEC §6): the stored record goes
/// from `broken` back to `in_progress`, which webhook delivery sends as `streak_progress.restored`.
#[tokio::test]
async fn a_backfill_that_heals_a_broken_run_is_a_restore_on_the_stream() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1})).await;
    let member = w.member("fay", "live").await;
    for (uid, n) in [("a", 3), ("c", 1)] {
        let body = json!({"streakId": streak, "ownedById": "fay", "uniqueIdentifier": uid, "activityValue": 1, "activityAt": days_ago(n)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    }
    w.drain().await;
    let runs = w.records(&member, "PROGRESS#").await;
    assert_eq!(
        summary(&runs),
        [
            (day_key(3), "broken".to_string(), 1),
            (day_key(1), "in_progress".to_string(), 1)
        ]
    );
    let body = json!({"streakId": streak, "ownedById": "fay", "uniqueIdentifier": "b", "activityValue": 1, "activityAt": days_ago(2)});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    let batches = w.drain().await;
    assert_eq!(
        summary(&w.records(&member, "PROGRESS#").await),
        [(day_key(3), "in_progress".to_string(), 3)]
    );
    // What webhook delivery reads from the stream: one restore of the healed run.
    let changes = w.collect().await;
    let restores: Vec<_> = batches
        .iter()
        .chain([&changes])
        .flat_map(|b| events_of(&w.tenant, b))
        .filter(|(t, _)| *t == "streak_progress.restored")
        .collect();
    assert_eq!(restores.len(), 1, "{restores:?}");
}

#[tokio::test]
async fn a_grant_processed_before_any_log_leaves_the_first_log_free_to_count() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "guarded", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 1, "aggregationMethod": "count", "maxFreezes": 2})).await;
    let member = w.member("early", "live").await;
    let grant =
        json!({"streakId": streak, "ownedById": "early", "count": 1, "uniqueIdentifier": "gift"});
    assert_eq!(w.log(LogKind::Freeze, grant).await.0, 201);
    // The grant alone: there is no run yet, so nothing to commit.
    w.drain().await;
    assert!(w.records(&member, "PROGRESS#").await.is_empty());

    let log = json!({"streakId": streak, "ownedById": "early", "uniqueIdentifier": "first", "activityAt": time::format(&time::now())});
    assert_eq!(w.log(LogKind::Streak, log).await.0, 201);
    w.drain().await;
    let records = w.records(&member, "PROGRESS#").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["currentProgressValue"], 1, "{records:?}");
    assert_eq!(records[0]["freezesAvailable"], 1, "{records:?}");
}
