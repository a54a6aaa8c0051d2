//! Log routes (SPEC §5) through the real handler, fed with `events/logs/*.json`, against DynamoDB Local.

use app::members;
use app::programs;
use domain::cursor::CursorCodec;
use domain::log::LogKind;
use domain::member::MemberInput;
use domain::program::{ProgramInput, ProgramKind};
use domain::tenant::{Environment, Tenant};
use domain::time;
use logs::App;
use serde_json::{json, Value};
use store::Store;
use testkit::{events, test_store};

struct Fixture {
    streaks: App,
    challenges: App,
    store: Store,
    tenant: Tenant,
    streak_id: String,
    challenge_id: String,
}

async fn program(store: &Store, tenant: &Tenant, kind: ProgramKind, body: Value) -> String {
    let input: ProgramInput = serde_json::from_value(body).unwrap();
    programs::create(store, tenant, kind, input, time::now())
        .await
        .unwrap()
        .id
}

async fn member(store: &Store, tenant: &Tenant, body: Value) {
    let input: MemberInput = serde_json::from_value(body).unwrap();
    members::create(store, tenant, input, time::now())
        .await
        .unwrap();
}

impl Fixture {
    /// A tenant with a live daily streak (sum, 10 per day, 7 days), a live weekly challenge that
    /// runs through November and December 2026, and a live member `user_12345`.
    async fn new() -> Self {
        let store = test_store().await;
        let tenant = Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live);
        let streak_id = program(&store, &tenant, ProgramKind::Streak, json!({"name": "Daily", "status": "live", "completionTargetValue": 7, "aggregationTargetValue": 10})).await;
        let challenge_id = program(&store, &tenant, ProgramKind::Challenge, json!({"name": "Week", "status": "live", "completionTargetValue": 100, "aggregationPeriod": "weekly", "startAt": "2026-11-01T00:00:00Z", "endAt": "2027-01-01T00:00:00Z"})).await;
        member(
            &store,
            &tenant,
            json!({"externalId": "user_12345", "status": "live"}),
        )
        .await;
        Fixture {
            streaks: App::new(LogKind::Streak, store.clone(), CursorCodec::from_env()),
            challenges: App::new(LogKind::Challenge, store.clone(), CursorCodec::from_env()),
            store,
            tenant,
            streak_id,
            challenge_id,
        }
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        self.send_as(event, "admin").await
    }

    async fn send_as(&self, event: Value, role: &str) -> (u16, Value) {
        let app = if event["routeKey"]
            .as_str()
            .unwrap()
            .contains("challenge_log")
        {
            &self.challenges
        } else {
            &self.streaks
        };
        let event = events::as_caller(event, &self.tenant.account_id, "live", role);
        events::parse(app.handle(events::request(&event)).await)
    }

    /// The sample create event of `kind`, its program id set to ours, with `changes` applied
    /// (a `null` removes the field).
    fn create(&self, file: &str, changes: Value) -> Value {
        let event = events::load(&format!("logs/{file}.json"));
        let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        if body.get("streakId").is_some() {
            body["streakId"] = json!(self.streak_id);
        } else {
            body["challengeId"] = json!(self.challenge_id);
        }
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        events::with_body(event, &body.to_string())
    }

    async fn count(&self, kind: &str) -> usize {
        let event = events::with_query(
            events::load(&format!("logs/{kind}-list.json")),
            &[("limit", "1000")],
        );
        let (status, body) = self.send(event).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    }
}

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
