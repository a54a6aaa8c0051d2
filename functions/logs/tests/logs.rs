//! Log routes (SPEC §5) through the real handler, fed with `events/logs/*.json`, against DynamoDB Local:
//! create, list, get, concurrency, ownedBy upserts, tenants and roles, replays.

mod common;

use common::*;
use serde_json::json;
use testkit::events;

#[tokio::test]
async fn create_get_and_list_a_sample_log() {
    let f = Fixture::new().await;
    let (status, created) = f.send(f.create("streak-create", json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let log = &created["data"];
    assert_eq!(log["streakId"], f.streak_id.as_str());
    assert_eq!(log["activityValue"], 25.5);
    assert_eq!(log["activityAt"], "2026-11-20T09:15:00.000Z");
    assert_eq!(log["countsTowardProgress"], true);
    let member = f
        .store
        .member_by_external_id(&f.tenant, "user_12345")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        log["ownedById"],
        member.id.as_str(),
        "stored with the member's id"
    );
    let id = log["id"].as_str().unwrap();

    let (status, got) = f
        .send(events::with_path_param(
            events::load("logs/streak-get.json"),
            "id",
            id,
        ))
        .await;
    assert_eq!(
        (status, got["data"]["uniqueIdentifier"].clone()),
        (200, json!("order-1001"))
    );
    assert_eq!(f.send(events::load("logs/streak-get.json")).await.0, 404);

    let (_, listed) = f.send(events::load("logs/streak-list.json")).await;
    assert_eq!(listed["data"][0]["id"], id);
    for (query, expected) in [
        (vec![("streakId", f.streak_id.as_str())], 1),
        (vec![("streakId", "other")], 0),
        (vec![("activityAtFrom", "2026-11-20T09:15:00Z")], 1),
        (vec![("activityAtFrom", "2026-11-20T09:15:00.001Z")], 0),
        (vec![("activityAtTo", "2026-11-20T09:15:00Z")], 0),
        (vec![("activityAtTo", "2026-11-20T10:00:00+01:00")], 0), // 09:00Z, before the log
        (vec![("activityAtTo", "2026-11-20T10:30:00+01:00")], 1),
        (vec![("ownedById", member.id.as_str())], 1),
        (vec![("ownedById", "nobody")], 0),
    ] {
        let (status, page) = f
            .send(events::with_query(
                events::load("logs/streak-list.json"),
                &query,
            ))
            .await;
        assert_eq!(status, 200, "{query:?}: {page}");
        assert_eq!(
            page["data"].as_array().unwrap().len(),
            expected,
            "{query:?}"
        );
    }
    let bad = events::with_query(
        events::load("logs/streak-list.json"),
        &[("activityAtFrom", "yesterday")],
    );
    assert_eq!(f.send(bad).await.0, 400);
    assert_eq!(
        f.send(events::with_query(
            events::load("logs/streak-list.json"),
            &[("challengeId", "x")]
        ))
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn ten_concurrent_copies_count_once() {
    let f = Fixture::new().await;
    let copies = (0..10).map(|_| f.send(f.create("streak-create", json!({}))));
    let results = futures::future::join_all(copies).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let replayed: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!((created, replayed.len()), (1, 9), "{results:?}");
    for (_, body) in &replayed {
        assert_eq!(body["idempotentReplayed"], true);
    }
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(_, b)| b["data"]["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 1, "every answer is the original log");
    assert_eq!(f.count("streak").await, 1);

    // The same uniqueIdentifier with another body is a conflict, and changes nothing.
    let (status, body) = f
        .send(f.create("streak-create", json!({"activityValue": 99})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("conflict"))
    );
    assert_eq!(f.count("streak").await, 1);
    // The same uniqueIdentifier on another program is another log.
    let (status, _) = f
        .send(f.create(
            "challenge-create",
            json!({"uniqueIdentifier": "order-1001"}),
        ))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn owned_by_upserts_the_member_with_the_log_atomically() {
    let f = Fixture::new().await;
    let (status, created) = f.send(f.create("streak-create-owned-by", json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let member = f
        .store
        .member_by_external_id(&f.tenant, "user_67890")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (member.first_name.as_deref(), member.timezone.as_deref()),
        (Some("Sam"), Some("Europe/Berlin"))
    );
    assert_eq!(created["data"]["ownedById"], member.id.as_str());
    assert!(
        member.last_seen_at.is_some(),
        "an activity log is a sighting"
    );

    // Replay: same answer, member unchanged.
    let (status, replay) = f.send(f.create("streak-create-owned-by", json!({}))).await;
    assert_eq!(
        (status, replay["idempotentReplayed"].clone()),
        (200, json!(true))
    );
    // Same uniqueIdentifier, other body that would also update the member: 409 and the member is untouched.
    let conflicting = f.create(
        "streak-create-owned-by",
        json!({"ownedBy": {"externalId": "user_67890", "firstName": "Changed"}}),
    );
    assert_eq!(f.send(conflicting).await.0, 409);
    let after = f
        .store
        .member_by_external_id(&f.tenant, "user_67890")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.first_name.as_deref(),
        Some("Sam"),
        "both happen or neither"
    );

    // A new log with ownedBy updates the existing member.
    let update = f.create("streak-create-owned-by", json!({"uniqueIdentifier": "visit-2003", "ownedBy": {"externalId": "user_67890", "status": "paused"}}));
    let (status, body) = f.send(update).await;
    assert_eq!(
        (status, body["data"]["countsTowardProgress"].clone()),
        (201, json!(false)),
        "{body}"
    );
    let paused = f
        .store
        .member_by_external_id(&f.tenant, "user_67890")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paused.first_name.as_deref(), paused.id.as_str()),
        (Some("Sam"), member.id.as_str())
    );

    // Concurrent first logs of one new member create one member.
    let firsts = (0..8).map(|i| {
        f.send(f.create(
            "challenge-create-owned-by",
            json!({"uniqueIdentifier": format!("c-{i}"), "ownedBy": {"externalId": "rush"}}),
        ))
    });
    for (status, body) in futures::future::join_all(firsts).await {
        assert_eq!(status, 201, "{body}");
    }
    let (_, list) = f
        .send(events::with_query(
            events::load("logs/challenge-list.json"),
            &[("ownedById", "rush")],
        ))
        .await;
    let owners: std::collections::HashSet<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ownedById"].to_string())
        .collect();
    assert_eq!(
        (list["data"].as_array().unwrap().len(), owners.len()),
        (8, 1)
    );
}

#[tokio::test]
async fn tenants_and_roles() {
    let f = Fixture::new().await;
    let (_, created) = f.send(f.create("streak-create", json!({}))).await;
    let id = created["data"]["id"].as_str().unwrap();
    let other = Fixture::new().await;
    assert_eq!(
        other
            .send(events::with_path_param(
                events::load("logs/streak-get.json"),
                "id",
                id
            ))
            .await
            .0,
        404
    );
    assert_eq!(other.count("streak").await, 0);
    for file in ["streak-create", "streak-list", "challenge-get"] {
        assert_eq!(
            f.send_as(events::load(&format!("logs/{file}.json")), "public")
                .await
                .0,
            403,
            "{file}"
        );
    }
}

#[tokio::test]
async fn a_replay_spelling_numbers_and_instants_differently_replays() {
    let f = Fixture::new().await;
    let first = json!({"activityValue": 10, "activityAt": "2026-11-24T09:15:00Z", "uniqueIdentifier": "spelled"});
    let (status, created) = f.send(f.create("streak-create", first)).await;
    assert_eq!(status, 201, "{created}");
    for same in [
        json!({"activityValue": 10.0, "activityAt": "2026-11-24T09:15:00.000Z", "uniqueIdentifier": "spelled"}),
        json!({"activityValue": 1e1, "activityAt": "2026-11-24T10:15:00+01:00", "uniqueIdentifier": "spelled"}),
    ] {
        let (status, replay) = f.send(f.create("streak-create", same.clone())).await;
        assert_eq!(status, 200, "{same}: {replay}");
        assert_eq!(replay["idempotentReplayed"], true);
        assert_eq!(replay["data"]["id"], created["data"]["id"]);
    }
    let different = json!({"activityValue": 10.5, "activityAt": "2026-11-24T09:15:00Z", "uniqueIdentifier": "spelled"});
    assert_eq!(f.send(f.create("streak-create", different)).await.0, 409);
    assert_eq!(f.count("streak").await, 1);
}
