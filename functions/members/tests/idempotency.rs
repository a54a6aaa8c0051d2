//! `Idempotency-Key` on POSTs (Stripe's semantics, docs/DECISIONS.md): a retry replays the first
//! answer and creates nothing; the same key with another body is 409; refused requests keep no
//! answer; keys are per tenant and expire.

mod common;

use common::*;
use serde_json::{json, Value};
use testkit::events;

impl Caller {
    /// A member create with `Idempotency-Key: key`: status, body, and whether it was a replay.
    async fn create_with_key(&self, key: &str, body: Value) -> (u16, Value, bool) {
        let event = events::with_header(
            events::with_body(events::load("members/create.json"), &body.to_string()),
            "Idempotency-Key",
            key,
        );
        let event = events::as_caller(event, &self.account, self.environment, self.role);
        let resp = self.app.handle(events::request(&event)).await;
        let replayed = resp.headers().get("idempotent-replayed").is_some();
        let (status, body) = events::parse(resp);
        (status, body, replayed)
    }
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_answer_and_creates_nothing() {
    let c = Caller::admin().await;
    let (status, first, replayed) = c.create_with_key("k-1", member("ann")).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    // The same request spelled differently (key order, whitespace) is the same request.
    let same = json!({"status": "live", "externalId": "ann"});
    let (status, again, replayed) = c.create_with_key("k-1", same).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, first, "the first answer, byte for byte");
    assert_eq!(c.stored_count().await, 1);
    // Without the key the same body is a new request: 409, the member exists.
    assert_eq!(c.create(member("ann")).await.0, 409);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_409_and_changes_nothing() {
    let c = Caller::admin().await;
    assert_eq!(c.create_with_key("k-2", member("bob")).await.0, 201);
    let (status, body, _) = c.create_with_key("k-2", member("carl")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{body}"
    );
    assert_eq!(c.stored_count().await, 1);
    assert_eq!(c.get("carl").await.0, 404);
}

#[tokio::test]
async fn a_refused_request_keeps_no_answer_so_a_corrected_retry_runs() {
    let c = Caller::admin().await;
    let (status, body, _) = c
        .create_with_key("k-3", json!({"externalId": "dora", "status": "sleeping"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body, replayed) = c.create_with_key("k-3", member("dora")).await;
    assert_eq!((status, replayed), (201, false), "{body}");
    assert_eq!(c.stored_count().await, 1);
}

#[tokio::test]
async fn concurrent_copies_with_one_key_create_one_member() {
    let c = Caller::admin().await;
    let answers = futures_join(10, || async {
        let (status, body, _) = c.create_with_key("k-4", member("eve")).await;
        (status, body)
    })
    .await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert!(!created.is_empty(), "{answers:?}");
    assert!(
        created
            .iter()
            .all(|b| b["data"]["id"] == created[0]["data"]["id"]),
        "one member, one id: {answers:?}"
    );
    // The others found the first still running: 409, retry later.
    assert!(
        answers.iter().all(|(s, _)| *s == 201 || *s == 409),
        "{answers:?}"
    );
    assert_eq!(c.stored_count().await, 1);
}

#[tokio::test]
async fn a_bad_key_is_400_and_stores_nothing() {
    let c = Caller::admin().await;
    for key in ["a".repeat(256), "two words".to_string(), "ключ".to_string()] {
        let (status, body, _) = c.create_with_key(&key, member("fay")).await;
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "Idempotency-Key");
    }
    assert_eq!(c.stored_count().await, 0);
}

#[tokio::test]
async fn keys_are_per_tenant() {
    let a = Caller::admin().await;
    let b = Caller::admin().await;
    let (status, first, _) = a.create_with_key("shared-key", member("gil")).await;
    assert_eq!(status, 201, "{first}");
    let (status, other, replayed) = b.create_with_key("shared-key", member("gil")).await;
    assert_eq!((status, replayed), (201, false), "{other}");
    assert_ne!(first["data"]["id"], other["data"]["id"]);
}

#[tokio::test]
async fn an_answer_older_than_a_day_is_not_replayed() {
    let c = Caller::admin().await;
    let now = domain::time::now();
    let day = chrono::Duration::hours(24);
    let claim = c
        .store
        .claim_idempotency_key(&c.tenant(), "k-old", "fp", now - day * 2, now - day * 2)
        .await
        .unwrap();
    assert_eq!(claim, store::Claim::Claimed);
    let answer = store::SavedAnswer {
        status: 201,
        body: "{}".into(),
    };
    c.store
        .save_idempotent_answer(&c.tenant(), "k-old", "fp", &answer, now - day)
        .await
        .unwrap();
    let (status, body, replayed) = c.create_with_key("k-old", member("hal")).await;
    assert_eq!((status, replayed), (201, false), "{body}");
    assert_eq!(body["data"]["externalId"], "hal");
}
