//! Track-user (seed 001) through the real handler, fed with `events/track-user/*.json`, against DynamoDB Local.

use domain::cursor::CursorCodec;
use serde_json::{json, Value};
use testkit::{events, test_store};
use track_user::App;

struct Caller {
    app: App,
    account: String,
    environment: &'static str,
    role: &'static str,
}

impl Caller {
    async fn new(role: &'static str) -> Self {
        Caller {
            app: App::new(test_store().await, CursorCodec::from_env()),
            account: uuid::Uuid::now_v7().to_string(),
            environment: "live",
            role,
        }
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.account, self.environment, self.role);
        events::parse(self.app.handle(events::request(&event)).await)
    }

    async fn track(&self, body: Value) -> (u16, Value) {
        self.send(events::with_body(
            events::load("track-user/post.json"),
            &body.to_string(),
        ))
        .await
    }

    async fn get(&self, external_id: &str) -> (u16, Value) {
        self.send(events::with_path_param(
            events::load("track-user/get.json"),
            "externalId",
            external_id,
        ))
        .await
    }
}

/// Seed 001's example answer to its example request (`events/track-user/post.json` carries the
/// request exactly as the seed shows it), as the seed prints it.
const SEED_ANSWER: &str = r#"{
"status": "success",
"data": {
"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
"partnerId": "partner-uuid",
"externalId": "user_12345",
"environment": "LIVE",
"displayName": "Jane Doe",
"email": "jane@example.com",
"phone": "",
"country": "NG",
"device": "mobile",
"source": "referral",
"firstSeenAt": "2025-01-15T10:30:00Z",
"lastSeenAt": "2025-03-05T14:22:00Z",
"lifecycleStage": "new",
"engagementTier": "casual",
"engagementScore": 0,
"totalPlays": 0,
"plays7d": 0,
"plays30d": 0,
"pointsEarned7d": 0,
"pointsEarned30d": 0,
"campaignsJoined": 0,
"winRate": 0,
"totalEvents": 0,
"tags": { "plan": "premium", "cohort": "2025-Q1" },
"metadata": { "signupDate": "2025-01-15" }
}
}"#;

#[tokio::test]
async fn the_seed_request_answers_the_seed_profile() {
    let c = Caller::new("public").await;
    let (status, body) = c.send(events::load("track-user/post.json")).await;
    assert_eq!(status, 200, "{body}");
    let seed: Value = serde_json::from_str(SEED_ANSWER).unwrap();
    assert_eq!(body["status"], seed["status"]);
    let d = &body["data"];
    let Value::Object(expected) = &seed["data"] else {
        panic!("the seed's data is an object")
    };
    // Every value of the seed's answer but the ids and times, which are the platform's own.
    let ours = ["id", "partnerId", "firstSeenAt", "lastSeenAt"];
    for (field, value) in expected.iter().filter(|(f, _)| !ours.contains(&f.as_str())) {
        assert_eq!(&d[field], value, "{field}");
    }
    assert_eq!(d["partnerId"], c.account.as_str());
    assert_eq!(d["status"], "live", "track-user creates live members");
    assert_eq!(d["firstSeenAt"], d["lastSeenAt"]);
    let (status, read) = c.send(events::load("track-user/get.json")).await;
    assert_eq!(status, 200);
    assert_eq!(read["data"]["id"], d["id"]);
}

#[tokio::test]
async fn a_second_call_updates_sent_fields_and_keeps_the_rest() {
    let c = Caller::new("public").await;
    let (_, first) = c.send(events::load("track-user/post.json")).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, second) = c
        .track(
            json!({"externalId": "user_12345", "displayName": "Jane Q.", "phone": "+14155552671"}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let (a, b) = (&first["data"], &second["data"]);
    assert_eq!(b["id"], a["id"]);
    assert_eq!(b["displayName"], "Jane Q.");
    assert_eq!(b["phone"], "+14155552671");
    assert_eq!(b["phoneNumber"], "+14155552671", "stored as phoneNumber");
    assert_eq!(b["email"], "jane@example.com", "not sent, kept");
    assert_eq!(b["tags"], a["tags"]);
    assert_eq!(b["firstSeenAt"], a["firstSeenAt"]);
    assert!(
        b["lastSeenAt"].as_str() > a["lastSeenAt"].as_str(),
        "lastSeenAt moves"
    );
}

#[tokio::test]
async fn bad_bodies_are_400_and_store_nothing() {
    let c = Caller::new("public").await;
    let (status, body) = c.track(json!({"displayName": "No Id"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing externalId"),
        "{body}"
    );
    for (bad, field) in [
        (
            json!({"externalId": "u", "phone": "+1 415 555 2671"}),
            "phone",
        ),
        (
            json!({"externalId": "u", "phone": "+1234567890123456789012"}),
            "phone",
        ),
        (json!({"externalId": "u", "country": "ZZ"}), "country"),
        (json!({"externalId": "u", "device": "console"}), "device"),
        (json!({"externalId": "u", "email": "nope"}), "email"),
        (
            json!({"externalId": "u", "phoneNumber": "+14155552671"}),
            "phoneNumber",
        ),
        (json!({"externalId": "u", "status": "paused"}), "status"),
        (json!({"externalId": "u", "tags": "premium"}), "tags"),
        (
            json!({"externalId": "u", "metadata": {"x": 1e308}}),
            "metadata",
        ),
        (
            json!({"externalId": "u", "metadata": {"x": -1e-300}}),
            "metadata",
        ),
        (json!({"externalId": "u", "metadata": {"": 1}}), "metadata"),
        (json!({"externalId": "u", "tags": {"": "x"}}), "tags"),
    ] {
        let (status, body) = c.track(bad).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], field, "{body}");
    }
    let raw = events::with_body(events::load("track-user/post.json"), "nope");
    assert_eq!(c.send(raw).await.1["error"]["code"], "invalid_json");
    assert_eq!(c.get("u").await.0, 404, "nothing was stored");
    let (status, body) = c.get(&"x".repeat(3000)).await;
    assert_eq!(status, 404, "an id too long to be a key: {body}");
}

#[tokio::test]
async fn keys_and_environments() {
    let public = Caller::new("public").await;
    public.send(events::load("track-user/post.json")).await;
    let admin = Caller {
        account: public.account.clone(),
        ..Caller::new("admin").await
    };
    assert_eq!(
        admin.get("user_12345").await.0,
        200,
        "admin keys may track users too"
    );
    let test_env = Caller {
        account: public.account.clone(),
        environment: "test",
        ..Caller::new("public").await
    };
    assert_eq!(
        test_env.get("user_12345").await.0,
        404,
        "test keys do not see live users"
    );
    let (_, tracked) = test_env.send(events::load("track-user/post.json")).await;
    assert_eq!(tracked["data"]["environment"], "TEST");
    let other = Caller::new("public").await;
    assert_eq!(other.get("user_12345").await.0, 404);

    let anonymous = events::unauthenticated(events::load("track-user/post.json"));
    let (status, body) = events::parse(public.app.handle(events::request(&anonymous)).await);
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn concurrent_first_calls_create_one_user() {
    let c = Caller::new("public").await;
    let calls = (0..20).map(|i| c.track(json!({"externalId": "rush", "source": format!("s{i}")})));
    let mut ids = std::collections::HashSet::new();
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
        ids.insert(body["data"]["id"].to_string());
    }
    assert_eq!(ids.len(), 1, "every answer names the same user");
    assert_eq!(c.get("rush").await.0, 200);
}
