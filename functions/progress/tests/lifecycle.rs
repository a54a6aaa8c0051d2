//! Issue 4's acceptance: the analytics of SPEC §7 after weeks of backfilled activity, unchanged by
//! replayed stream batches; and the deletion cascade of SPEC §3.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::*;
use domain::log::{ActivityLog, LogKind};
use domain::program::ProgramKind;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use testkit::stream::StreamPoller;
use testkit::test_endpoint;

/// Noon of `day`, or a minute ago for today before noon (logs cannot be in the future).
fn noon(day: NaiveDate) -> DateTime<Utc> {
    let noon = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    noon.min(Utc::now() - Duration::minutes(1))
}

fn decimal(v: &Value) -> Decimal {
    v.to_string().parse().unwrap()
}

/// What SPEC §7 says the answer must be, from the logs the test sent and the progress and reward
/// records the processor wrote (their own correctness is tested elsewhere).
fn expected_analytics(
    logs: &[(DateTime<Utc>, bool)],
    windows: &[Value],
    rewards: &[Value],
    programs: usize,
) -> Value {
    let today = Utc::now().date_naive();
    let age = |t: &DateTime<Utc>| (today - t.date_naive()).num_days();
    let counted: Vec<&DateTime<Utc>> = logs.iter().filter(|l| l.1).map(|l| &l.0).collect();
    let plays = |n| counted.iter().filter(|t| (0..n).contains(&age(t))).count();
    let points = |n| {
        rewards
            .iter()
            .filter(|r| {
                let issued: DateTime<Utc> = r["rewardIssuedAt"].as_str().unwrap().parse().unwrap();
                (0..n).contains(&age(&issued))
            })
            .map(|r| decimal(&r["milestone"]["rewardPoints"]))
            .sum::<Decimal>()
    };
    // GamifyHost's weighted composite (docs/DECISIONS.md): recency 30 less a point per whole day
    // since the latest log's activityAt (a profile sync is not activity), a point per play up to
    // 30, 20 at 500 points, 4 per campaign up to 5; two decimals.
    let plays30 = plays(30) as u64;
    let recency = logs.iter().map(|l| l.0).max().map_or(0, |last| {
        30 - (Utc::now() - last).num_days().clamp(0, 30) as u64
    });
    let score = (Decimal::from(recency + plays30.min(30) + 4 * (programs as u64).min(5))
        + points(30).min(Decimal::from(500)) / Decimal::from(25))
    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let tier = match plays30 {
        0..=4 => "casual",
        5..=14 => "regular",
        15..=50 => "power_user",
        _ => "whale",
    };
    let stage = if plays30 >= 30 && score >= Decimal::from(70) {
        "power_user"
    } else if plays30 >= 10 && programs > 0 {
        "engaged"
    } else if logs.len() <= 3 {
        "new"
    } else {
        "active"
    };
    let completed = windows
        .iter()
        .filter(|w| w["challengeProgressStatus"] == "completed")
        .count();
    let win_rate = (Decimal::from(completed as u64) / Decimal::from(windows.len() as u64))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    json!({
        "totalEvents": logs.len(),
        "totalPlays": counted.len(),
        "plays7d": plays(7),
        "plays30d": plays(30),
        "pointsEarned7d": points(7).to_string(),
        "pointsEarned30d": points(30).to_string(),
        "campaignsJoined": programs,
        "winRate": win_rate.normalize().to_string(),
        "engagementScore": score.normalize().to_string(),
        "engagementTier": tier,
        // Seen today (the logs were just sent); first seen today by track-user (SPEC §3).
        "lifecycleStage": stage,
    })
}

/// The analytics fields of an answer, decimals as strings so 0.33 compares exactly.
fn analytics_of(answer: &Value) -> Value {
    let d = &answer["data"];
    let mut out = json!({});
    for field in [
        "totalEvents",
        "totalPlays",
        "plays7d",
        "plays30d",
        "campaignsJoined",
        "engagementTier",
        "lifecycleStage",
    ] {
        out[field] = d[field].clone();
    }
    for field in [
        "pointsEarned7d",
        "pointsEarned30d",
        "winRate",
        "engagementScore",
    ] {
        out[field] = json!(decimal(&d[field]).normalize().to_string());
    }
    out
}

#[tokio::test]
async fn analytics_follow_weeks_of_backfilled_activity_and_survive_replays() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "3 days", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 10})).await;
    w.program(ProgramKind::Milestone, json!({"name": "3 in a row", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 3, "rewardPoints": 50})).await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "3 a week", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "weekly", "completionTargetValue": 3})).await;
    w.program(ProgramKind::Milestone, json!({"name": "weekly 3", "status": "live", "linkedSchemaSlug": "challenge", "linkedSchemaRecordId": challenge, "milestoneTargetValue": 3, "rewardPoints": 20.5})).await;
    let (status, created) = w.track(json!({"externalId": "kim", "country": "GB"})).await;
    assert_eq!(status, 200);
    assert_eq!(created["data"]["totalEvents"], 0);

    let today = Utc::now().date_naive();
    let mut sent: Vec<(DateTime<Utc>, bool)> = Vec::new();
    // Streak: isolated days 40, 25, 13 and 9 days ago, three in a row (6, 5, 4: completed and
    // rewarded), then a new run yesterday and today.
    for (i, n) in [40, 25, 13, 9, 6, 5, 4, 1, 0].into_iter().enumerate() {
        let at = noon(today - Duration::days(n));
        let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": format!("s-{i}"), "activityValue": 10, "activityAt": at.to_rfc3339()});
        assert_eq!(w.log(LogKind::Streak, body.clone()).await.0, 201);
        // A client retry of the same log counts once.
        assert_eq!(w.log(LogKind::Streak, body).await.0, 200);
        sent.push((at, true));
    }
    // Challenge (ISO weeks): three logs in the week three weeks back (completed, rewarded), one
    // two weeks back (failed), one this week (in progress).
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let challenge_days = [
        monday - Duration::days(21),
        monday - Duration::days(20),
        monday - Duration::days(19),
        monday - Duration::days(13),
        today,
    ];
    for (i, day) in challenge_days.into_iter().enumerate() {
        let at = noon(day);
        let body = json!({"challengeId": challenge, "ownedById": "kim", "uniqueIdentifier": format!("c-{i}"), "activityAt": at.to_rfc3339()});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
        sent.push((at, true));
    }
    // While paused, a log is stored but never counts: an event, not a play.
    let (status, _) = w
        .member_route("patch.json", "kim", Some(json!({"status": "paused"})))
        .await;
    assert_eq!(status, 200);
    let at = noon(today - Duration::days(2));
    let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": "s-paused", "activityValue": 10, "activityAt": at.to_rfc3339()});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    sent.push((at, false));
    let (status, _) = w
        .member_route("patch.json", "kim", Some(json!({"status": "live"})))
        .await;
    assert_eq!(status, 200);

    let batches = w.drain().await;
    let (status, answer) = w.profile("kim").await;
    assert_eq!(status, 200);
    let member_id = answer["data"]["id"].as_str().unwrap().to_string();
    let windows = w.records(&member_id, "PROGRESS#").await;
    let windows: Vec<Value> = windows
        .into_iter()
        .filter(|r| r["challengeId"] == challenge.as_str())
        .collect();
    let rewards = w.records(&member_id, "REWARD#").await;
    let expected = expected_analytics(&sent, &windows, &rewards, 2);
    assert_eq!(analytics_of(&answer), expected);
    // The history above, in numbers.
    assert_eq!(
        (
            expected["totalEvents"].clone(),
            expected["totalPlays"].clone()
        ),
        (json!(15), json!(14))
    );
    assert_eq!(
        (
            expected["pointsEarned7d"].clone(),
            expected["pointsEarned30d"].clone()
        ),
        (json!("50"), json!("70.5"))
    );
    assert_eq!(
        expected["winRate"], "0.33",
        "one of three windows completed"
    );
    // 10+ plays in 30 days and two campaigns, score well under 70: GamifyHost's `engaged`.
    assert_eq!(
        (&expected["engagementTier"], &expected["lifecycleStage"]),
        (&json!("regular"), &json!("engaged"))
    );
    let last_seen: DateTime<Utc> = answer["data"]["lastSeenAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let first_seen: DateTime<Utc> = answer["data"]["firstSeenAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(last_seen > first_seen, "the logs moved lastSeenAt");
    // The member record answers the same analytics.
    let (status, record) = w.member_route("get.json", &member_id, None).await;
    assert_eq!(status, 200);
    assert_eq!(analytics_of(&record), expected);
    // A profile sync is not activity: it moves lastSeenAt, not the score.
    let (status, synced) = w.track(json!({"externalId": "kim", "country": "FR"})).await;
    assert_eq!(status, 200);
    assert_eq!(analytics_of(&synced), expected);
    let (_, answer) = w.profile("kim").await;

    // Every batch delivered again, then the whole stream as one batch: nothing changes.
    for batch in batches {
        w.process(batch).await;
    }
    let mut everything = StreamPoller::new(&w.store, &test_endpoint().await)
        .await
        .unwrap()
        .poll()
        .await
        .unwrap();
    let prefix = format!("{}#", w.tenant.key_prefix());
    everything.records.retain(|r| {
        serde_json::to_value(r.change.keys.get("PK").unwrap()).unwrap()["S"]
            .as_str()
            .unwrap()
            .starts_with(&prefix)
    });
    w.process(everything).await;
    let (_, again) = w.profile("kim").await;
    assert_eq!(again["data"], answer["data"], "replays change nothing");
}

#[tokio::test]
async fn a_deleted_member_leaves_nothing_behind() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 2, "aggregationTargetValue": 1, "aggregationMethod": "count", "maxFreezes": 2})).await;
    w.program(ProgramKind::Milestone, json!({"name": "first day", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 1, "rewardPoints": 5})).await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "weekly", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "weekly", "completionTargetValue": 5})).await;
    let gone = w.member("gone", "live").await;
    let stays = w.member("stays", "live").await;
    for owner in ["gone", "stays"] {
        // A freeze grant: its log item and the member's grants item go with the member too.
        let grant = json!({"streakId": streak, "ownedById": owner, "count": 1, "uniqueIdentifier": format!("{owner}-freeze")});
        assert_eq!(w.log(LogKind::Freeze, grant).await.0, 201);
        for n in 1..4 {
            let body = json!({"streakId": streak, "ownedById": owner, "uniqueIdentifier": format!("{owner}-s-{n}"), "activityAt": days_ago(n)});
            assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
            let body = json!({"challengeId": challenge, "ownedById": owner, "uniqueIdentifier": format!("{owner}-c-{n}"), "activityAt": days_ago(n)});
            assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
        }
    }
    w.drain().await;
    let left_by_gone = w.items_naming(&gone).await;
    let kinds: BTreeSet<String> = left_by_gone
        .iter()
        .filter_map(|i| i.get("SK")?.as_s().ok())
        .map(|sk| sk.split('#').next().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["AGG", "FREEZES", "ID", "LOG", "MEMBER", "POINTS", "PROGRESS", "REWARD", "STATE"]
            .map(String::from)
            .into(),
        "the member has every kind of item before"
    );
    assert!(
        left_by_gone.iter().any(|i| i.contains_key("GSI3PK")),
        "a run in progress is in the due index"
    );
    let kept = w.items_naming(&stays).await;

    let (status, _) = w.member_route("delete.json", &gone, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        w.member_route("get.json", &gone, None).await.0,
        404,
        "gone at once"
    );
    w.drain().await;
    assert_eq!(w.items_naming(&gone).await, Vec::<Item>::new());
    assert_eq!(
        w.items_naming(&stays).await.len(),
        kept.len(),
        "the other member is untouched"
    );

    // A log written while the member was being deleted (it passed the owner check just before)
    // is swept when the processor sees it.
    let mut racing = w
        .store
        .list_kind::<ActivityLog>(
            &w.tenant,
            LogKind::Streak.slug(),
            Some(&stays),
            &[],
            1,
            None,
        )
        .await
        .unwrap()
        .0
        .remove(0);
    racing.id = uuid::Uuid::now_v7().to_string();
    racing.unique_identifier = "racing".into();
    racing.owned_by_id = gone.clone();
    w.store.insert_log(&w.tenant, &racing, None).await.unwrap();
    assert_eq!(w.items_naming(&gone).await.len(), 1);
    w.drain().await;
    assert_eq!(w.items_naming(&gone).await, Vec::<Item>::new());

    // The same externalId again is a new member with a clean history.
    let (status, again) = w.track(json!({"externalId": "gone"})).await;
    assert_eq!(status, 200);
    assert_ne!(again["data"]["id"], gone.as_str());
    assert_eq!(again["data"]["totalEvents"], 0);
    let (status, logs) = w.member_route("streak-log.json", "gone", None).await;
    assert_eq!(status, 200);
    assert_eq!(logs["data"], json!([]));
}

#[tokio::test]
async fn a_new_external_id_keeps_the_history() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 2, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    let member = w.member("old-name", "live").await;
    let body = json!({"streakId": streak, "ownedById": "old-name", "uniqueIdentifier": "one", "activityAt": days_ago(1)});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    w.drain().await;
    let before = w.items_naming(&member).await.len();

    // The member item moves to its new key: the old one's REMOVE is not a deletion.
    let (status, _) = w
        .member_route(
            "patch.json",
            &member,
            Some(json!({"externalId": "new-name"})),
        )
        .await;
    assert_eq!(status, 200);
    // Another member takes the old externalId at once: reads by id are not misled by what this
    // instance saw of the old name (its hint), whether by the API or by the processor.
    let newcomer = w.member("old-name", "live").await;
    let (status, by_id) = w.member_route("get.json", &member, None).await;
    assert_eq!(status, 200);
    assert_eq!(by_id["data"]["externalId"], "new-name");
    let (_, by_id) = w.member_route("get.json", &newcomer, None).await;
    assert_eq!(by_id["data"]["externalId"], "old-name");
    w.drain().await;
    assert_eq!(w.items_naming(&member).await.len(), before);
    let (status, profile) = w.profile("new-name").await;
    assert_eq!(status, 200);
    assert_eq!(profile["data"]["totalPlays"], 1);

    let body = json!({"streakId": streak, "ownedById": member, "uniqueIdentifier": "two", "activityAt": domain::time::format(&domain::time::now())});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    w.drain().await;
    assert_eq!(w.profile("new-name").await.1["data"]["totalPlays"], 2);
    assert_eq!(w.profile("old-name").await.1["data"]["totalPlays"], 0);
}
