//! What the log tests share: a tenant with a live streak, a live challenge and a live member, and
//! the log handlers to call (`events/logs/*.json` as the requests).
#![allow(dead_code)] // each test binary uses a part

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

pub struct Fixture {
    pub streaks: App,
    pub challenges: App,
    pub store: Store,
    pub tenant: Tenant,
    pub streak_id: String,
    pub challenge_id: String,
}

pub async fn program(store: &Store, tenant: &Tenant, kind: ProgramKind, body: Value) -> String {
    let input: ProgramInput = serde_json::from_value(body).unwrap();
    programs::create(store, tenant, kind, input, time::now())
        .await
        .unwrap()
        .id
}

pub async fn member(store: &Store, tenant: &Tenant, body: Value) {
    let input: MemberInput = serde_json::from_value(body).unwrap();
    members::create(store, tenant, input, time::now())
        .await
        .unwrap();
}

impl Fixture {
    /// A tenant with a live daily streak (sum, 10 per day, 7 days), a live weekly challenge that
    /// runs through November and December 2026, and a live member `user_12345`.
    pub async fn new() -> Self {
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

    pub async fn send(&self, event: Value) -> (u16, Value) {
        self.send_as(event, "admin").await
    }

    pub async fn send_as(&self, event: Value, role: &str) -> (u16, Value) {
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
    pub fn create(&self, file: &str, changes: Value) -> Value {
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

    pub async fn count(&self, kind: &str) -> usize {
        let event = events::with_query(
            events::load(&format!("logs/{kind}-list.json")),
            &[("limit", "1000")],
        );
        let (status, body) = self.send(event).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    }
}
