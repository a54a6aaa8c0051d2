//! Batches as Lambda delivers them, through the real processor handler: a poison record fails
//! alone, concurrent batches converge, big and odd batches are recorded.

mod common;

use app::members;
use common::*;
use domain::log::LogKind;
use domain::member::MemberInput;
use domain::program::ProgramKind;
use domain::time;
use serde_json::json;
use testkit::events;

#[tokio::test]
async fn a_poison_record_fails_alone() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 2, "aggregationTargetValue": 1})).await;
    let member = w.member("ed", "live").await;
    let body = json!({"streakId": streak, "ownedById": "ed", "uniqueIdentifier": "x1", "activityValue": 1, "activityAt": days_ago(1)});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    let mut batch = w.collect().await;
    let poison: aws_lambda_events::dynamodb::EventRecord =
        serde_json::from_value(events::load("stream/batch.json")["Records"][3].clone()).unwrap();
    batch.records.insert(0, poison);
    let response = w.processor.handle(batch).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["4400000000000000000000004"],
        "only the poison record is reported"
    );
    assert_eq!(
        summary(&w.records(&member, "PROGRESS#").await)[0].2,
        1,
        "the others were applied"
    );
}

/// Splits the pending stream records into single-record batches processed all at once, plus
/// the whole batch, then delivers what failed again, as the event source mapping does.
async fn process_concurrently(w: &mut World) {
    let batch = w.collect().await;
    // Split the batch into single-record batches processed all at once, plus the whole batch.
    let singles: Vec<_> = batch
        .records
        .iter()
        .map(|r| {
            let mut one = aws_lambda_events::dynamodb::Event::default();
            one.records = vec![r.clone()];
            one
        })
        .chain(std::iter::once(batch.clone()))
        .collect();
    let responses =
        futures::future::join_all(singles.into_iter().map(|b| w.processor.handle(b))).await;
    // Records reported as failed are delivered again, as the event source mapping does.
    let mut failed: Vec<String> = responses
        .iter()
        .flat_map(|r| {
            r.batch_item_failures
                .iter()
                .filter_map(|f| f.item_identifier.clone())
        })
        .collect();
    for _ in 0..5 {
        if failed.is_empty() {
            break;
        }
        let mut again = aws_lambda_events::dynamodb::Event::default();
        again.records = batch
            .records
            .iter()
            .filter(|r| {
                r.change
                    .sequence_number
                    .as_ref()
                    .is_some_and(|s| failed.contains(s))
            })
            .cloned()
            .collect();
        failed = w
            .processor
            .handle(again)
            .await
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect();
    }
    assert!(failed.is_empty(), "redelivery converges");
}

#[tokio::test]
async fn concurrent_batches_converge() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    let member = w.member("fi", "live").await;
    for n in 1..=12 {
        let body = json!({"streakId": streak, "ownedById": "fi", "uniqueIdentifier": format!("c{n}"), "activityAt": days_ago(n)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    }
    process_concurrently(&mut w).await;
    let runs = summary(&w.records(&member, "PROGRESS#").await);
    assert_eq!(runs, [(day_key(12), "in_progress".to_string(), 12)]);
}

/// Concurrent batches logging into one challenge window: each recomputation reads the window's
/// logs after the head, so a commit that saw fewer logs never overwrites one that saw more.
#[tokio::test]
async fn concurrent_batches_converge_on_a_challenge_window() {
    let mut w = World::new().await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "c", "status": "live", "completionTargetValue": 1000, "aggregationMethod": "count", "aggregationPeriod": "monthly"})).await;
    let now = domain::time::format(&domain::time::now());
    let mut members = Vec::new();
    for m in ["ga", "gb", "gc"] {
        members.push(w.member(m, "live").await);
        for n in 1..=12 {
            let body = json!({"challengeId": challenge, "ownedById": m, "uniqueIdentifier": format!("{m}{n}"), "activityAt": now});
            assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
        }
    }
    process_concurrently(&mut w).await;
    for member in &members {
        let windows = w.records(member, "PROGRESS#").await;
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0]["currentProgressValue"], 12);
    }
}

/// The sample batch (insert, modify, remove, poison, a user-journey event, a points entry and a
/// balance) as Lambda would deliver
/// it: records that are not new logs or events are ignored, a log of an unknown program is skipped,
/// an event of an unknown member is cleaned up, the poison fails alone.
#[tokio::test]
async fn the_sample_batch_reports_only_its_poison_record() {
    let w = World::new().await;
    let event: aws_lambda_events::dynamodb::Event =
        serde_json::from_value(events::load("stream/batch.json")).unwrap();
    assert_eq!(event.records.len(), 7);
    let response = w.processor.handle(event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["4400000000000000000000004"]);
    assert_eq!(
        serde_json::to_value(&response).unwrap()["batchItemFailures"][0]["itemIdentifier"],
        "4400000000000000000000004"
    );
}

/// DynamoDB Local writes empty maps into stream records untyped; the poller must still read them
/// (a member saved with `"tags": {}` once stalled `make run`'s stream processor).
#[tokio::test]
async fn empty_maps_pass_through_the_local_stream() {
    let mut w = World::new().await;
    let input: MemberInput = serde_json::from_value(
        json!({"externalId": "empty", "status": "live", "tags": {}, "metadata": {}}),
    )
    .unwrap();
    members::create(&w.store, &w.tenant, input, time::now())
        .await
        .unwrap();
    let batches = w.drain().await;
    let member = batches
        .iter()
        .flat_map(|b| &b.records)
        .find(|r| {
            r.change
                .keys
                .get("SK")
                .is_some_and(|sk| serde_json::to_value(sk).unwrap()["S"] == "MEMBER")
        })
        .expect("the member's INSERT was read");
    let tags = serde_json::to_value(member.change.new_image.get("tags").unwrap()).unwrap();
    assert_eq!(tags, json!({"M": {}}));
}

/// More logs of one member and period than one update of the period item can carry.
#[tokio::test]
async fn a_batch_of_hundreds_of_logs_of_one_period_is_recorded() {
    let mut w = World::new().await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "many", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "monthly", "completionTargetValue": 1000000})).await;
    let member = w.member("busy", "live").await;
    const LOGS: usize = 400;
    for i in 0..LOGS {
        let body = json!({"challengeId": challenge, "ownedById": "busy", "uniqueIdentifier": format!("u-{i}"), "activityAt": days_ago(0).replace("T12:00:00Z", "T00:00:01Z")});
        assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    }
    let batch = w.collect().await;
    assert!(batch.records.len() > LOGS, "the logs arrive in one batch");
    w.process(batch).await;
    let windows = w.records(&member, "PROGRESS#").await;
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["currentProgressValue"], LOGS);
}
