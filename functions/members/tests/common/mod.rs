//! The test caller shared by the member route tests: the real handler, fed with
//! `events/members/*.json`, as one account of one environment.
#![allow(dead_code)] // each test binary uses a part of it

use domain::cursor::CursorCodec;
use domain::tenant::{Environment, Tenant};
use members::App;
use serde_json::{json, Value};
use store::Store;
use testkit::{events, test_store};

pub struct Caller {
    pub app: App,
    pub store: Store,
    pub account: String,
    pub environment: &'static str,
    pub role: &'static str,
}

impl Caller {
    pub async fn admin() -> Self {
        let store = test_store().await;
        Caller {
            app: App::new(store.clone(), CursorCodec::from_env()),
            store,
            account: uuid::Uuid::now_v7().to_string(),
            environment: "live",
            role: "admin",
        }
    }

    pub fn tenant(&self) -> Tenant {
        Tenant::new(&self.account, Environment::parse(self.environment).unwrap())
    }

    pub async fn send(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.account, self.environment, self.role);
        events::parse(self.app.handle(events::request(&event)).await)
    }

    pub async fn create(&self, body: Value) -> (u16, Value) {
        self.send(events::with_body(
            events::load("members/create.json"),
            &body.to_string(),
        ))
        .await
    }

    pub async fn get(&self, id: &str) -> (u16, Value) {
        self.send(events::with_path_param(
            events::load("members/get.json"),
            "id",
            id,
        ))
        .await
    }

    pub async fn patch(&self, id: &str, body: Value) -> (u16, Value) {
        let event = events::with_path_param(events::load("members/patch.json"), "id", id);
        self.send(events::with_body(event, &body.to_string())).await
    }

    pub async fn list(&self, query: &[(&str, &str)]) -> (u16, Value) {
        self.send(events::with_query(events::load("members/list.json"), query))
            .await
    }

    pub async fn stored_count(&self) -> usize {
        let (status, body) = self.list(&[("limit", "1000")]).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    }
}

pub fn member(external_id: &str) -> Value {
    json!({"externalId": external_id, "status": "live"})
}

/// Runs `n` copies of a request at the same time.
pub async fn futures_join<F, Fut>(n: usize, make: F) -> Vec<(u16, Value)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (u16, Value)>,
{
    futures::future::join_all((0..n).map(|_| make())).await
}

/// Metadata as deep as `levels` objects (the outermost is `metadata` itself).
pub fn nested_metadata(levels: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..levels {
        value = json!({ "a": value });
    }
    value
}
