//! The points ledger over its handler and DynamoDB Local: credits, spends that never overdraw,
//! idempotency, bad input, and the balance members show.

use app::members;
use domain::cursor::CursorCodec;
use domain::member::MemberInput;
use domain::tenant::{Environment, Tenant};
use domain::time;
use points::App;
use serde_json::{json, Value};
use store::Store;
use testkit::{events, test_store};

struct Fixture {
    app: App,
    store: Store,
    tenant: Tenant,
    member_id: String,
}

impl Fixture {
    /// A tenant with one live member, `player-1`.
    async fn new() -> Self {
        let store = test_store().await;
        let tenant = Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live);
        let input: MemberInput =
            serde_json::from_value(json!({"externalId": "player-1", "status": "live"})).unwrap();
        let member = members::create(&store, &tenant, input, time::now())
            .await
            .unwrap();
        Fixture {
            app: App::new(store.clone(), CursorCodec::from_env()),
            store,
            tenant,
            member_id: member.id,
        }
    }

    async fn send_as(&self, event: Value, role: &str) -> (u16, Value) {
        let event = events::as_caller(event, &self.tenant.account_id, "live", role);
        events::parse(self.app.handle(events::request(&event)).await)
    }

    async fn post_as(&self, body: Value, role: &str) -> (u16, Value) {
        let event = events::with_body(events::load("points/create.json"), &body.to_string());
        self.send_as(event, role).await
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        self.post_as(body, "admin").await
    }

    async fn entries(&self) -> Vec<Value> {
        let event = events::with_query(
            events::load("points/list.json"),
            &[("ownedById", "player-1"), ("limit", "100")],
        );
        let (status, body) = self.send_as(event, "admin").await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    }

    async fn balance(&self) -> Value {
        json!(
            app::points::balance(&self.store, &self.tenant, &self.member_id)
                .await
                .unwrap()
        )
    }

    /// The balance is the ledger's sum, however the entries got there.
    async fn assert_balance_is_the_ledgers_sum(&self) {
        let sum: rust_decimal::Decimal = self
            .entries()
            .await
            .iter()
            .map(|e| {
                e["amount"]
                    .to_string()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            })
            .sum();
        assert_eq!(
            self.balance().await,
            json!(domain::amount::Amount::from(sum))
        );
    }
}

fn entry(amount: Value, unique_identifier: &str) -> Value {
    json!({"ownedById": "player-1", "amount": amount, "reason": "test", "uniqueIdentifier": unique_identifier})
}

#[tokio::test]
async fn credits_and_spends_move_the_balance_exactly_and_replay_once() {
    let f = Fixture::new().await;
    let (status, body) = f.post(entry(json!(100.1), "welcome")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["ownedById"], json!(f.member_id));
    assert_eq!(body["data"]["amount"], json!(100.1));
    assert_eq!(body["data"]["reason"], "test");
    let (status, body) = f.post(entry(json!(-0.2), "coffee")).await;
    assert_eq!(status, 201, "{body}");
    // Exact decimals: 100.1 - 0.2 is 99.9, not 99.89999….
    assert_eq!(f.balance().await, json!(99.9));

    // The same body again is a replay (nothing new); another body with the key is a conflict.
    let (status, body) = f.post(entry(json!(100.1), "welcome")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], json!(id));
    let (status, body) = f.post(entry(json!(5), "welcome")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(f.entries().await.len(), 2);
    assert_eq!(f.balance().await, json!(99.9));

    let get = events::with_path_param(events::load("points/get.json"), "id", &id);
    let (status, body) = f.send_as(get, "admin").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["uniqueIdentifier"], "welcome");
    f.assert_balance_is_the_ledgers_sum().await;
}

#[tokio::test]
async fn a_spend_larger_than_the_balance_is_refused_and_stores_nothing() {
    let f = Fixture::new().await;
    assert_eq!(f.post(entry(json!(10), "earned")).await.0, 201);
    let (status, body) = f.post(entry(json!(-10.5), "too-much")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_points");
    assert_eq!(f.entries().await.len(), 1);
    assert_eq!(f.balance().await, json!(10));
    // Spending exactly the balance is allowed.
    assert_eq!(f.post(entry(json!(-10), "all-of-it")).await.0, 201);
    assert_eq!(f.balance().await, json!(0));
    f.assert_balance_is_the_ledgers_sum().await;
}

#[tokio::test]
async fn fifty_racing_spends_take_exactly_what_the_balance_covers() {
    let f = Fixture::new().await;
    assert_eq!(f.post(entry(json!(1000), "budget")).await.0, 201);
    // 50 spends of 30 want 1,500; 1,000 covers 33 of them.
    let answers = futures::future::join_all(
        (0..50).map(|i| f.post(entry(json!(-30), &format!("spend-{i}")))),
    )
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 409 && b["error"]["code"] == "insufficient_points")
        .count();
    assert_eq!((ok, refused), (33, 17), "{answers:?}");
    assert_eq!(f.balance().await, json!(10));
    assert_eq!(f.entries().await.len(), 34);
    f.assert_balance_is_the_ledgers_sum().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let f = Fixture::new().await;
    let cases = [
        (entry(json!(0), "zero"), "amount"),
        (entry(json!(0.0000001), "seven-decimals"), "amount"),
        (entry(json!(1_000_000_000_001i64), "too-big"), "amount"),
        (entry(json!(-1_000_000_000_001i64), "too-small"), "amount"),
        (entry(json!("5"), "a-string"), "amount"),
        (
            json!({"ownedById": "player-1", "amount": 5, "reason": "no key"}),
            "uniqueIdentifier",
        ),
        (
            json!({"ownedById": "nobody", "amount": 5, "uniqueIdentifier": "u"}),
            "ownedById",
        ),
        (
            json!({"ownedById": "player-1", "amount": 5, "uniqueIdentifier": "u", "reason": "r".repeat(257)}),
            "reason",
        ),
        (
            json!({"ownedById": "player-1", "amount": 5, "uniqueIdentifier": "u", "points": 5}),
            "points",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = f.post(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let fields: Vec<&str> = answer["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{body}: {answer}");
    }
    // A public key may not write points.
    let (status, _) = f.post_as(entry(json!(5), "public"), "public").await;
    assert_eq!(status, 403);
    assert!(f.entries().await.is_empty());
    assert_eq!(f.balance().await, json!(0));
}

#[tokio::test]
async fn owned_by_creates_the_member_with_its_first_credit() {
    let f = Fixture::new().await;
    let body = json!({"ownedBy": {"externalId": "newcomer", "status": "live"}, "amount": 25, "uniqueIdentifier": "signup-bonus"});
    let (status, answer) = f.post(body).await;
    assert_eq!(status, 201, "{answer}");
    let member = members::resolve(&f.store, &f.tenant, "newcomer")
        .await
        .unwrap();
    assert_eq!(answer["data"]["ownedById"], json!(member.id));
    let balance = app::points::balance(&f.store, &f.tenant, &member.id)
        .await
        .unwrap();
    assert_eq!(json!(balance), json!(25));
    // A spend for a member created by it finds nothing to spend.
    let body =
        json!({"ownedBy": {"externalId": "another"}, "amount": -1, "uniqueIdentifier": "spend"});
    assert_eq!(f.post(body).await.0, 409);
    assert!(members::resolve(&f.store, &f.tenant, "another")
        .await
        .is_err());
}
