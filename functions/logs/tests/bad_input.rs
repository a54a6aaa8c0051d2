//! Log routes refuse what they must (SPEC §5): every bad log is a clear 4xx that stores nothing.

mod common;

use common::*;
use domain::program::ProgramKind;
use domain::time;
use serde_json::{json, Value};
use testkit::events;

#[tokio::test]
async fn programs_must_be_live_and_challenges_open() {
    let f = Fixture::new().await;
    for status in ["draft", "paused"] {
        let id = program(&f.store, &f.tenant, ProgramKind::Streak, json!({"name": "x", "status": status, "completionTargetValue": 1, "aggregationTargetValue": 1})).await;
        let (code, body) = f
            .send(f.create("streak-create", json!({"streakId": id})))
            .await;
        assert_eq!(
            (code, body["error"]["code"].clone()),
            (409, json!("not_live")),
            "{status}: {body}"
        );
    }
    let ended = program(&f.store, &f.tenant, ProgramKind::Challenge, json!({"name": "Early November", "status": "live", "completionTargetValue": 5, "endAt": "2026-11-10T00:00:00Z"})).await;
    for (challenge, at) in [
        (f.challenge_id.as_str(), "2026-10-31T23:59:59Z"),
        (ended.as_str(), "2026-11-10T00:00:00Z"),
    ] {
        let (code, body) = f
            .send(f.create(
                "challenge-create",
                json!({"challengeId": challenge, "activityAt": at}),
            ))
            .await;
        assert_eq!(
            (code, body["error"]["code"].clone()),
            (409, json!("not_live")),
            "{at}: {body}"
        );
    }
    assert_eq!(
        f.send(f.create(
            "challenge-create",
            json!({"challengeId": ended, "activityAt": "2026-11-09T23:59:59Z"})
        ))
        .await
        .0,
        201
    );
    let opening = f.create(
        "challenge-create",
        json!({"activityAt": "2026-11-01T00:00:00Z", "uniqueIdentifier": "first-second"}),
    );
    assert_eq!(f.send(opening).await.0, 201, "startAt is inclusive");
    assert_eq!(f.count("streak").await, 0);
}

#[tokio::test]
async fn every_bad_log_is_a_4xx_and_stores_nothing() {
    let f = Fixture::new().await;
    let other = Fixture::new().await;
    let future = (time::now() + chrono::Duration::minutes(6)).to_rfc3339();
    let cases = [
        (json!({"activityAt": future}), "activityAt"),
        (json!({"activityAt": "24/11/2026"}), "activityAt"),
        (json!({"activityValue": null}), "activityValue"),
        (json!({"activityValue": -1}), "activityValue"),
        (json!({"activityValue": "12"}), "activityValue"),
        (json!({"streakId": null}), "streakId"),
        (json!({"streakId": "no-such-streak"}), "streakId"),
        (json!({"streakId": other.streak_id}), "streakId"),
        (json!({"challengeId": "x"}), "challengeId"),
        (json!({"ownedById": null}), "ownedById"),
        (json!({"ownedById": "nobody"}), "ownedById"),
        (json!({"ownedBy": {"externalId": "x"}}), "ownedBy"),
        (
            json!({"uniqueIdentifier": "u".repeat(257)}),
            "uniqueIdentifier",
        ),
        (json!({"activityId": "a".repeat(257)}), "activityId"),
        (json!({"unknownField": 1}), "unknownField"),
    ];
    for (changes, field) in cases {
        let (status, body) = f.send(f.create("streak-create", changes.clone())).await;
        assert_eq!(status, 400, "{changes}: {body}");
        assert_eq!(
            body["error"]["details"][0]["field"], field,
            "{changes}: {body}"
        );
    }
    let bad_member = f.create(
        "streak-create-owned-by",
        json!({"ownedBy": {"externalId": "new-one", "phoneNumber": "0791 123"}}),
    );
    let (status, body) = f.send(bad_member).await;
    assert_eq!(
        (status, body["error"]["details"][0]["field"].clone()),
        (400, json!("ownedBy.phoneNumber"))
    );
    assert!(f
        .store
        .member_by_external_id(&f.tenant, "new-one")
        .await
        .unwrap()
        .is_none());
    assert_eq!(f.count("streak").await, 0);
    // A count log needs no activityValue.
    let counting = program(&f.store, &f.tenant, ProgramKind::Streak, json!({"name": "n", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 2, "aggregationMethod": "count"})).await;
    assert_eq!(
        f.send(f.create(
            "streak-create",
            json!({"streakId": counting, "activityValue": null})
        ))
        .await
        .0,
        201
    );
}

#[tokio::test]
async fn logs_of_members_who_are_not_live_never_count() {
    let f = Fixture::new().await;
    member(
        &f.store,
        &f.tenant,
        json!({"externalId": "paused-one", "status": "paused"}),
    )
    .await;
    let (status, body) = f
        .send(f.create("streak-create", json!({"ownedById": "paused-one"})))
        .await;
    assert_eq!(
        (status, body["data"]["countsTowardProgress"].clone()),
        (201, json!(false))
    );
}

#[tokio::test]
async fn owned_by_metadata_the_store_cannot_hold_is_400_and_stores_nothing() {
    let f = Fixture::new().await;
    let event = events::load("logs/streak-create-owned-by.json");
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    body["streakId"] = json!(f.streak_id);
    for bad in [json!({"x": 1e308}), json!({"x": 1e-300}), json!({"": 1})] {
        body["ownedBy"]["metadata"] = bad.clone();
        let (status, answer) = f
            .send(events::with_body(event.clone(), &body.to_string()))
            .await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(
            answer["error"]["details"][0]["field"], "ownedBy.metadata",
            "{answer}"
        );
    }
    assert_eq!(f.count("streak").await, 0, "no log stored");
    assert!(f
        .store
        .member_by_external_id(&f.tenant, "user_67890")
        .await
        .unwrap()
        .is_none());
    // The deepest metadata the store holds goes in with the log.
    let mut deepest = json!(1);
    for _ in 0..domain::validate::MAX_METADATA_DEPTH {
        deepest = json!({ "a": deepest });
    }
    body["ownedBy"]["metadata"] = deepest;
    let (status, answer) = f.send(events::with_body(event, &body.to_string())).await;
    assert_eq!(status, 201, "{answer}");
    let get = events::with_path_param(
        events::load("logs/streak-get.json"),
        "id",
        &"x".repeat(3000),
    );
    assert_eq!(f.send(get).await.0, 404);
}

#[tokio::test]
async fn ids_in_a_body_too_long_to_be_keys_are_4xx_not_500() {
    let f = Fixture::new().await;
    let long = "x".repeat(3000);
    let mut body: Value = serde_json::from_str(
        events::load("logs/streak-create.json")["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    body["streakId"] = json!(long);
    let (status, answer) = f
        .send(events::with_body(
            events::load("logs/streak-create.json"),
            &body.to_string(),
        ))
        .await;
    assert_eq!(status, 400, "what any unknown streak gets: {answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "streakId");
    let (status, answer) = f
        .send(f.create("streak-create", json!({"ownedById": long})))
        .await;
    assert!(
        (400..500).contains(&status),
        "an unknown member: {status} {answer}"
    );
    assert_eq!(f.count("streak").await, 0, "nothing stored");
}
