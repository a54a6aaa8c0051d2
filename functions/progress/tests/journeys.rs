//! User-journey events through the stream (SPEC §7): they count toward `totalEvents` and move
//! `lastSeenAt` once, whatever the replays, never toward plays or progress; the profile's
//! recommendations follow the member's progress; a deleted member's events go with it.

mod common;

use common::*;
use domain::log::LogKind;
use domain::program::ProgramKind;
use serde_json::{json, Value};

fn analytics(profile: &Value) -> (Value, Value, Value) {
    let d = &profile["data"];
    (
        d["totalEvents"].clone(),
        d["totalPlays"].clone(),
        d["lastSeenAt"].clone(),
    )
}

#[tokio::test]
async fn events_count_toward_total_events_and_last_seen_once_and_never_toward_plays() {
    let mut w = World::new().await;
    let (status, tracked) = w.track(json!({"externalId": "eve"})).await;
    assert_eq!(status, 200);
    let tracked_at = tracked["data"]["lastSeenAt"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for (id, ago) in [("e1", 3), ("e2", 1), ("e3", 2)] {
        let body = json!({"eventId": id, "externalId": "eve", "eventType": "visit", "occurredAt": days_ago(ago)});
        assert_eq!(w.journey_event(body.clone()).await.0, 201);
        // A client retry of the same event changes nothing.
        assert_eq!(w.journey_event(body).await.0, 200);
    }
    let batches = w.drain().await;
    let (_, profile) = w.profile("eve").await;
    let (events, plays, last_seen) = analytics(&profile);
    assert_eq!((events, plays), (json!(3), json!(0)));
    assert!(
        last_seen.as_str().unwrap() > tracked_at.as_str(),
        "events move lastSeenAt: {last_seen} vs {tracked_at}"
    );
    // Three events, first seen now: still new (≤ 3 events).
    assert_eq!(profile["data"]["lifecycleStage"], "new");
    // A fourth makes the member active.
    let body = json!({"eventId": "e4", "externalId": "eve", "eventType": "visit"});
    assert_eq!(w.journey_event(body).await.0, 201);
    w.drain().await;
    let (_, profile) = w.profile("eve").await;
    assert_eq!(profile["data"]["totalEvents"], 4);
    assert_eq!(profile["data"]["lifecycleStage"], "active");
    // Every batch delivered again: nothing changes.
    for batch in batches {
        w.process(batch).await;
    }
    let (_, again) = w.profile("eve").await;
    assert_eq!(again["data"], profile["data"]);
}

#[tokio::test]
async fn reconcile_counts_events_a_lost_batch_left_out_once() {
    let mut w = World::new().await;
    let member = w.member("lost", "live").await;
    w.drain().await;
    for id in ["l1", "l2"] {
        let body = json!({"eventId": id, "externalId": "lost", "eventType": "visit"});
        assert_eq!(w.journey_event(body).await.0, 201);
    }
    // The batch with the events is lost (never processed).
    let lost = w.collect().await;
    assert!(!lost.records.is_empty());
    let (_, before) = w.profile("lost").await;
    assert_eq!(before["data"]["totalEvents"], 0);
    for _ in 0..2 {
        let done = processor::reconcile::member(&w.store, &w.tenant, &member, domain::time::now())
            .await
            .unwrap();
        assert_eq!((done.logs, done.failed), (2, 0));
        let (_, after) = w.profile("lost").await;
        assert_eq!(
            after["data"]["totalEvents"], 2,
            "counted once, however often"
        );
    }
}

#[tokio::test]
async fn recommendations_follow_progress_closest_first_then_programs_not_joined() {
    let mut w = World::new().await;
    let near = w.program(ProgramKind::Challenge, json!({"name": "5 visits a week", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "weekly", "completionTargetValue": 5})).await;
    let far = w.program(ProgramKind::Challenge, json!({"name": "20 visits a month", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "monthly", "completionTargetValue": 20})).await;
    let fresh = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 7, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.program(ProgramKind::Streak, json!({"name": "draft", "status": "draft", "completionTargetValue": 7, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.member("rita", "live").await;
    let (_, profile) = w.profile("rita").await;
    let names = |p: &Value| -> Vec<(String, String)> {
        p["data"]["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["programId"].as_str().unwrap().to_string(),
                    r["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // Nothing joined: the live programs, newest first; the draft is not recommended.
    let not_joined = |id: &str| (id.to_string(), "not_joined".to_string());
    assert_eq!(
        names(&profile),
        [not_joined(&fresh), not_joined(&far), not_joined(&near)]
    );
    let now = chrono::Utc::now().to_rfc3339();
    for i in 0..3 {
        let body = json!({"challengeId": near, "ownedById": "rita", "uniqueIdentifier": format!("n{i}"), "activityAt": now});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    }
    let body = json!({"challengeId": far, "ownedById": "rita", "uniqueIdentifier": "f0", "activityAt": now});
    assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    w.drain().await;
    let (_, profile) = w.profile("rita").await;
    let close = |id: &str| (id.to_string(), "close_to_completion".to_string());
    assert_eq!(
        names(&profile),
        [close(&near), close(&far), not_joined(&fresh)]
    );
    let first = &profile["data"]["recommendations"][0];
    assert_eq!(first["priority"], 1);
    assert_eq!(first["name"], "5 visits a week");
    assert_eq!(first["programType"], "challenge");
    assert_eq!(
        first["progress"],
        json!({"current": 3, "target": 5, "remaining": 2})
    );
    // Completing the weekly challenge takes it off the list.
    for i in 3..5 {
        let body = json!({"challengeId": near, "ownedById": "rita", "uniqueIdentifier": format!("n{i}"), "activityAt": now});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    }
    w.drain().await;
    let (_, profile) = w.profile("rita").await;
    assert_eq!(names(&profile), [close(&far), not_joined(&fresh)]);
}

#[tokio::test]
async fn a_deleted_member_leaves_no_events_behind() {
    let mut w = World::new().await;
    let member = w.member("gone", "live").await;
    for id in ["g1", "g2"] {
        let body = json!({"eventId": id, "externalId": "gone", "eventType": "visit"});
        assert_eq!(w.journey_event(body).await.0, 201);
    }
    w.drain().await;
    assert!(w.items_naming(&member).await.iter().any(|i| i
        .get("SK")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        == Some("JEVENT")));
    assert_eq!(w.member_route("delete.json", &member, None).await.0, 200);
    w.drain().await;
    assert_eq!(w.items_naming(&member).await.len(), 0, "nothing left");
}
