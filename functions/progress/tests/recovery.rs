//! Recovery from lost or failing stream batches: records that fail every retry are parked and
//! re-driven later; a member's progress is reconciled from their stored logs.

mod common;

use common::World;
use domain::log::LogKind;
use domain::program::ProgramKind;
use domain::retry::Backoff;
use progress::Processor;
use serde_json::json;
use std::time::Duration;
use testkit::stream::{self, Batch};

/// Whether a stream record is of this test's tenant (tests share the table and its stream).
fn of_tenant(prefix: &str, record: &aws_lambda_events::dynamodb::EventRecord) -> bool {
    record.change.keys.get("PK").is_some_and(|pk| {
        serde_json::to_value(pk)
            .ok()
            .and_then(|v| v["S"].as_str().map(|s| s.starts_with(prefix)))
            .unwrap_or(false)
    })
}

async fn counted(w: &World, member: &str) -> Option<f64> {
    let records = w.records(member, "PROGRESS#").await;
    records
        .first()
        .and_then(|r| r["currentProgressValue"].as_f64())
}

async fn count_challenge(w: &World) -> String {
    w.program(ProgramKind::Challenge, json!({"name": "count", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "monthly", "completionTargetValue": 1000000})).await
}

#[tokio::test]
async fn records_that_fail_every_retry_are_parked_then_redriven() {
    let mut w = World::new().await;
    let challenge = count_challenge(&w).await;
    let member = w.member("parked", "live").await;
    let now = domain::time::format(&domain::time::now());
    for n in 0..3 {
        let body = json!({"challengeId": challenge, "ownedById": "parked", "uniqueIdentifier": format!("p{n}"), "activityAt": now});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    }

    // A processor with a bug: every record of this tenant fails. The batch is retried, then
    // parked as a failure message; the checkpoint moves on.
    let dir = std::env::temp_dir().join(format!("gamify-parked-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let failures = dir.join("stream-failures.jsonl");
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let prefix = format!("{}#", w.tenant.key_prefix());
    let prefix = prefix.as_str();
    let tenant_records = |event: aws_lambda_events::dynamodb::Event| {
        event
            .records
            .into_iter()
            .filter(|r| of_tenant(prefix, r))
            .collect::<Vec<_>>()
    };
    let buggy = |event| {
        let mine = tenant_records(event);
        if !mine.is_empty() {
            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let failed = mine
            .iter()
            .filter_map(|r| r.change.sequence_number.clone())
            .collect::<Vec<_>>();
        async move { failed }
    };
    let mut park =
        |messages: Vec<stream::FailureMessage>| stream::append_failures(&failures, &messages);
    let fast = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(2),
    };
    loop {
        let batch: Batch = w.poller.next_batch().await.unwrap();
        if batch.is_empty() {
            break;
        }
        stream::settle(
            &mut w.poller,
            batch,
            &buggy,
            &mut park,
            fast,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        attempts.load(std::sync::atomic::Ordering::SeqCst),
        stream::ATTEMPTS_BEFORE_PARKING,
        "retried, then parked"
    );
    let parked = stream::read_failures(&failures).unwrap();
    assert!(!parked.is_empty());
    assert_eq!(
        parked[0].request_context["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(counted(&w, &member).await, None, "nothing counted yet");
    assert!(
        w.poller
            .next_batch()
            .await
            .unwrap()
            .event
            .records
            .iter()
            .all(|r| !of_tenant(prefix, r)),
        "the checkpoint moved past the parked batch"
    );

    // Fixed: `gamify-admin redrive` reads the parked ranges from the stream again.
    let processor = Processor::new(w.store.clone());
    let fixed = |event| {
        let mut mine = aws_lambda_events::dynamodb::Event::default();
        mine.records = tenant_records(event);
        let processor = &processor;
        async move {
            processor
                .handle(mine)
                .await
                .batch_item_failures
                .into_iter()
                .filter_map(|f| f.item_identifier)
                .collect::<Vec<_>>()
        }
    };
    let (redriven, still) = stream::redrive(&w.poller, &failures, fixed).await.unwrap();
    assert_eq!((redriven, still), (parked.len(), 0));
    assert!(stream::read_failures(&failures).unwrap().is_empty());
    assert_eq!(counted(&w, &member).await, Some(3.0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn reconciliation_counts_logs_a_lost_batch_left_out_and_is_idempotent() {
    let mut w = World::new().await;
    let challenge = count_challenge(&w).await;
    let member = w.member("lost", "live").await;
    let now = domain::time::format(&domain::time::now());
    for n in 0..5 {
        let body = json!({"challengeId": challenge, "ownedById": "lost", "uniqueIdentifier": format!("l{n}"), "activityAt": now});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    }
    // Three of the five logs' records are lost (the old poller dropped failing batches).
    let mut batch = w.collect().await;
    let mut dropped = 0;
    batch.records.retain(|r| {
        let is_log = r.change.new_image.get("SK").is_some_and(|sk| {
            serde_json::to_value(sk)
                .ok()
                .and_then(|v| v["S"].as_str().map(|s| s == "LOG"))
                == Some(true)
        });
        if is_log && dropped < 3 {
            dropped += 1;
            return false;
        }
        true
    });
    w.process(batch).await;
    assert_eq!(counted(&w, &member).await, Some(2.0));

    let tenant = w.tenant.clone();
    let done = processor::reconcile::member(&w.store, &tenant, &member, domain::time::now())
        .await
        .unwrap();
    assert_eq!((done.logs, done.failed), (5, 0));
    assert_eq!(counted(&w, &member).await, Some(5.0));
    let (_, profile) = w.profile("lost").await;
    assert_eq!(profile["data"]["totalPlays"], 5, "{profile}");

    // Again, and for the whole tenant: nothing changes.
    let done = processor::reconcile::tenant(&w.store, &tenant, domain::time::now())
        .await
        .unwrap();
    assert_eq!((done.members, done.logs, done.failed), (1, 5, 0));
    assert_eq!(counted(&w, &member).await, Some(5.0));
    let (_, again) = w.profile("lost").await;
    assert_eq!(again["data"]["totalPlays"], 5, "{again}");
    assert_eq!(w.records(&member, "PROGRESS#").await.len(), 1);
}

#[tokio::test]
async fn reconciliation_rebuilds_freezes_a_lost_grant_left_out() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "kept", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count", "maxFreezes": 3})).await;
    let member = w.member("thawed", "live").await;
    let log = json!({"streakId": streak, "ownedById": "thawed", "uniqueIdentifier": "today", "activityAt": domain::time::format(&domain::time::now())});
    assert_eq!(w.log(LogKind::Streak, log).await.0, 201);
    let grant =
        json!({"streakId": streak, "ownedById": "thawed", "count": 2, "uniqueIdentifier": "promo"});
    assert_eq!(w.log(LogKind::Freeze, grant).await.0, 201);
    // The grant's stream record is lost.
    let mut batch = w.collect().await;
    batch.records.retain(|r| {
        let image = serde_json::to_value(&r.change.new_image).unwrap_or_default();
        image["kind"]["S"] != "streak_freeze"
    });
    w.process(batch).await;
    let held =
        |records: Vec<serde_json::Value>| records[0]["freezesAvailable"].as_u64().unwrap_or(0);
    assert_eq!(held(w.records(&member, "PROGRESS#").await), 0);

    let tenant = w.tenant.clone();
    let done = processor::reconcile::member(&w.store, &tenant, &member, domain::time::now())
        .await
        .unwrap();
    assert_eq!((done.logs, done.failed), (2, 0), "the log and the grant");
    assert_eq!(held(w.records(&member, "PROGRESS#").await), 2);
    let (_, profile) = w.profile("thawed").await;
    assert_eq!(
        profile["data"]["totalPlays"], 1,
        "a grant is not a play: {profile}"
    );
}

#[tokio::test]
async fn a_batch_reports_its_logs_rewards_and_lag_as_metrics() {
    let mut w = World::new().await;
    let challenge = count_challenge(&w).await;
    w.program(ProgramKind::Milestone, json!({"name": "2 logs", "status": "live", "linkedSchemaSlug": "challenge", "linkedSchemaRecordId": challenge, "milestoneTargetValue": 2})).await;
    w.member("measured", "live").await;
    let now = domain::time::format(&domain::time::now());
    for n in 0..3 {
        let body = json!({"challengeId": challenge, "ownedById": "measured", "uniqueIdentifier": format!("m{n}"), "activityAt": now});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    }
    let batch = w.collect().await;
    let at = domain::time::now();
    let report = processor::process_batch_reported(&w.store, &batch.records, at).await;
    assert_eq!(
        (report.logs, report.rewards_issued, report.failed.len()),
        (3, 1, 0)
    );
    let line = progress::metrics(&report, at);
    assert_eq!(line["LogsProcessed"], 3.0);
    assert_eq!(line["RewardsIssued"], 1.0);
    let lag = line["ProgressLag"].as_f64().unwrap();
    assert!((0.0..60_000.0).contains(&lag), "{lag}");
    // A replay issues nothing new.
    let again =
        processor::process_batch_reported(&w.store, &batch.records, domain::time::now()).await;
    assert_eq!((again.logs, again.rewards_issued), (3, 0));
}
