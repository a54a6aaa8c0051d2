//! Program routes (SPEC §4) through the real handler, fed with `events/programs/*.json`, against DynamoDB Local.

use domain::cursor::CursorCodec;
use programs::App;
use serde_json::{json, Value};
use testkit::{events, test_store};

struct Caller {
    app: App,
    account: String,
    role: &'static str,
}

impl Caller {
    async fn admin() -> Self {
        Caller {
            app: App::new(test_store().await, CursorCodec::from_env()),
            account: uuid::Uuid::now_v7().to_string(),
            role: "admin",
        }
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.account, "live", self.role);
        events::parse(self.app.handle(events::request(&event)).await)
    }

    async fn create(&self, slug: &str, body: Value) -> (u16, Value) {
        let event = events::load(&format!("programs/{slug}-create.json"));
        self.send(events::with_body(event, &body.to_string())).await
    }

    async fn on(&self, slug: &str, action: &str, id: &str) -> (u16, Value) {
        let event = events::load(&format!("programs/{slug}-{action}.json"));
        self.send(events::with_path_param(event, "id", id)).await
    }

    async fn count(&self, slug: &str) -> usize {
        let event = events::with_query(
            events::load(&format!("programs/{slug}-list.json")),
            &[("limit", "1000")],
        );
        let (status, body) = self.send(event).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    }
}

fn sample(slug: &str) -> Value {
    let event = events::load(&format!("programs/{slug}-create.json"));
    serde_json::from_str(event["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn sample_programs_through_their_whole_lifecycle() {
    let c = Caller::admin().await;
    let (status, streak) = c.send(events::load("programs/streak-create.json")).await;
    assert_eq!(status, 201, "{streak}");
    let s = &streak["data"];
    assert_eq!(
        (
            s["completionTargetValue"].clone(),
            s["aggregationTargetValue"].clone()
        ),
        (json!(7), json!(10))
    );
    assert_eq!(s["timezone"], "America/New_York");
    assert!(s.get("startAt").is_none(), "only a streak's fields: {s}");
    let streak_id = s["id"].as_str().unwrap();

    let (status, challenge) = c.send(events::load("programs/challenge-create.json")).await;
    assert_eq!(status, 201, "{challenge}");
    assert_eq!(challenge["data"]["startAt"], "2026-11-01T00:00:00.000Z");
    assert!(challenge["data"].get("aggregationTargetValue").is_none());

    let mut milestone = sample("milestone");
    milestone["linkedSchemaRecordId"] = json!(streak_id);
    let (status, m) = c.create("milestone", milestone).await;
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["data"]["rewardPoints"], 50);
    let milestone_id = m["data"]["id"].as_str().unwrap();

    assert_eq!(
        c.on("streak", "get", streak_id).await.1["data"]["name"],
        "Daily purchase"
    );
    let (status, patched) = c.on("streak", "patch", streak_id).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["status"], "paused");
    assert_eq!(
        c.on("streak", "get", streak_id).await.1["data"]["status"],
        "paused",
        "read your write"
    );
    let (status, patched) = c.on("milestone", "patch", milestone_id).await;
    assert_eq!(
        (status, patched["data"]["rewardPoints"].clone()),
        (200, json!(75))
    );
    let challenge_id = challenge["data"]["id"].as_str().unwrap();
    let (_, patched) = c.on("challenge", "patch", challenge_id).await;
    assert_eq!(patched["data"]["endAt"], Value::Null, "null clears endAt");

    // A record is only found under its own kind.
    assert_eq!(c.on("challenge", "get", streak_id).await.0, 404);
    assert_eq!(c.on("milestone", "delete", streak_id).await.0, 404);

    let (_, live) = c.send(events::load("programs/streak-list.json")).await;
    assert_eq!(
        live["data"].as_array().unwrap().len(),
        0,
        "the sample lists live streaks; ours is paused"
    );
    let by_parent = events::with_query(
        events::load("programs/milestone-list.json"),
        &[("linkedSchemaRecordId", streak_id)],
    );
    assert_eq!(c.send(by_parent).await.1["data"][0]["id"], milestone_id);

    let (status, deleted) = c.on("streak", "delete", streak_id).await;
    assert_eq!(
        (status, deleted["data"]["deleted"].clone()),
        (200, json!(true))
    );
    assert_eq!(c.on("streak", "get", streak_id).await.0, 404);
    assert_eq!(c.count("streak").await, 0);
}

#[tokio::test]
async fn every_bad_program_is_a_4xx_and_stores_nothing() {
    let c = Caller::admin().await;
    let with = |slug: &str, changes: Value| {
        let mut body = sample(slug);
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (
            "streak",
            with("streak", json!({"completionTargetValue": 2.5})),
            "completionTargetValue",
        ),
        (
            "streak",
            with("streak", json!({"completionTargetValue": 0})),
            "completionTargetValue",
        ),
        (
            "streak",
            with("streak", json!({"aggregationTargetValue": 0})),
            "aggregationTargetValue",
        ),
        (
            "streak",
            with("streak", json!({"aggregationTargetValue": null})),
            "aggregationTargetValue",
        ),
        (
            "streak",
            with("streak", json!({"timezone": "America/Springfield"})),
            "timezone",
        ),
        (
            "streak",
            with("streak", json!({"aggregationPeriod": "hourly"})),
            "aggregationPeriod",
        ),
        (
            "streak",
            with("streak", json!({"aggregationMethod": "max"})),
            "aggregationMethod",
        ),
        (
            "streak",
            with("streak", json!({"status": "active"})),
            "status",
        ),
        (
            "streak",
            with("streak", json!({"name": "x".repeat(257)})),
            "name",
        ),
        (
            "streak",
            with("streak", json!({"description": "x".repeat(1025)})),
            "description",
        ),
        (
            "streak",
            with("streak", json!({"startAt": "2026-11-01T00:00:00Z"})),
            "startAt",
        ),
        (
            "streak",
            with("streak", json!({"completionTargetVal": 3})),
            "completionTargetVal",
        ),
        (
            "challenge",
            with("challenge", json!({"completionTargetValue": 0})),
            "completionTargetValue",
        ),
        (
            "challenge",
            with("challenge", json!({"aggregationTargetValue": 5})),
            "aggregationTargetValue",
        ),
        (
            "challenge",
            with("challenge", json!({"endAt": "2026-10-01T00:00:00Z"})),
            "endAt",
        ),
        (
            "challenge",
            with("challenge", json!({"startAt": "next week"})),
            "startAt",
        ),
        (
            "milestone",
            with("milestone", json!({})),
            "linkedSchemaRecordId",
        ),
        (
            "milestone",
            with("milestone", json!({"linkedSchemaSlug": "badge"})),
            "linkedSchemaSlug",
        ),
        (
            "milestone",
            with("milestone", json!({"milestoneTargetValue": -1})),
            "milestoneTargetValue",
        ),
        (
            "milestone",
            with("milestone", json!({"rewardPoints": -5})),
            "rewardPoints",
        ),
    ];
    for (slug, body, field) in cases {
        let (status, err) = c.create(slug, body).await;
        assert_eq!(status, 400, "{slug}: {err}");
        assert_eq!(err["error"]["code"], "validation_failed");
        assert_eq!(err["error"]["details"][0]["field"], field, "{slug}: {err}");
    }
    for slug in ["streak", "challenge", "milestone"] {
        assert_eq!(c.count(slug).await, 0, "{slug}: nothing stored");
    }
}

#[tokio::test]
async fn a_milestone_needs_a_parent_of_its_kind_in_its_tenant() {
    let c = Caller::admin().await;
    let other = Caller::admin().await;
    let (_, foreign) = other
        .send(events::load("programs/streak-create.json"))
        .await;
    let (_, own) = c.send(events::load("programs/streak-create.json")).await;
    let mut m = sample("milestone");
    m["linkedSchemaRecordId"] = foreign["data"]["id"].clone();
    assert_eq!(
        c.create("milestone", m.clone()).await.0,
        400,
        "another tenant's streak"
    );
    m["linkedSchemaRecordId"] = own["data"]["id"].clone();
    m["linkedSchemaSlug"] = json!("challenge");
    assert_eq!(
        c.create("milestone", m.clone()).await.0,
        400,
        "a streak is not a challenge"
    );
    m["linkedSchemaSlug"] = json!("streak");
    let (status, created) = c.create("milestone", m).await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap();
    let relink = events::with_body(
        events::with_path_param(events::load("programs/milestone-patch.json"), "id", id),
        &json!({"linkedSchemaRecordId": foreign["data"]["id"]}).to_string(),
    );
    assert_eq!(c.send(relink).await.0, 400);
    assert_eq!(c.count("milestone").await, 1);
}

#[tokio::test]
async fn tenants_and_roles() {
    let c = Caller::admin().await;
    let (_, streak) = c.send(events::load("programs/streak-create.json")).await;
    let id = streak["data"]["id"].as_str().unwrap();
    let other = Caller::admin().await;
    assert_eq!(other.on("streak", "get", id).await.0, 404);
    assert_eq!(other.on("streak", "patch", id).await.0, 404);
    assert_eq!(other.on("streak", "delete", id).await.0, 404);
    let public = Caller {
        role: "public",
        account: c.account.clone(),
        ..Caller::admin().await
    };
    for file in [
        "streak-create",
        "streak-list",
        "challenge-get",
        "milestone-delete",
    ] {
        assert_eq!(
            public
                .send(events::load(&format!("programs/{file}.json")))
                .await
                .0,
            403,
            "{file}"
        );
    }
    let anonymous = events::unauthenticated(events::load("programs/streak-list.json"));
    assert_eq!(
        events::parse(c.app.handle(events::request(&anonymous)).await).0,
        401
    );
}

/// Without a key, two POSTs make two streaks (programs have no natural key); with one key, a retry
/// replays the first answer (`Idempotency-Key`, docs/DECISIONS.md).
#[tokio::test]
async fn a_retried_create_with_an_idempotency_key_makes_one_program() {
    let c = Caller::admin().await;
    let with_key = || {
        events::with_header(
            events::load("programs/streak-create.json"),
            "Idempotency-Key",
            "create-daily-streak",
        )
    };
    let (first_status, first) = c.send(with_key()).await;
    let (second_status, second) = c.send(with_key()).await;
    assert_eq!(
        (first_status, second_status),
        (201, 201),
        "{first} {second}"
    );
    assert_eq!(first["data"]["id"], second["data"]["id"]);
    assert_eq!(c.count("streak").await, 1);
    // The same key for a challenge is another request: 409, nothing made.
    let event = events::with_header(
        events::load("programs/challenge-create.json"),
        "Idempotency-Key",
        "create-daily-streak",
    );
    assert_eq!(c.send(event).await.0, 409);
    assert_eq!(c.count("challenge").await, 0);
    assert_eq!(
        c.send(events::load("programs/streak-create.json")).await.0,
        201
    );
    assert_eq!(c.count("streak").await, 2);
}
