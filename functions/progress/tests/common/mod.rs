//! The test world shared by the processor's tests: the real handlers, DynamoDB Local, and its
//! stream read by the local poller.
#![allow(dead_code)] // each test binary uses a part of it

use std::collections::HashMap;

use app::members;
use app::programs;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use domain::cursor::CursorCodec;
use domain::log::LogKind;
use domain::member::MemberInput;
use domain::program::{ProgramInput, ProgramKind};
use domain::tenant::{Environment, Tenant};
use domain::time;
use progress::Processor;
use serde_json::{json, Value};
use store::Store;
use testkit::stream::StreamPoller;
use testkit::{events, test_endpoint, test_store};

pub type Item = HashMap<String, AttributeValue>;

pub struct World {
    pub store: Store,
    pub tenant: Tenant,
    pub streaks: logs::App,
    pub challenges: logs::App,
    pub members: ::members::App,
    pub track_user: track_user::App,
    pub processor: Processor,
    pub poller: StreamPoller,
}

impl World {
    pub async fn new() -> Self {
        Self::on(test_store().await).await
    }

    /// A world whose handlers and processor use `store` (e.g. a metered one).
    pub async fn on(store: Store) -> Self {
        let poller = StreamPoller::new(&store, &test_endpoint().await)
            .await
            .unwrap();
        World {
            tenant: Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live),
            streaks: logs::App::new(LogKind::Streak, store.clone(), CursorCodec::from_env()),
            challenges: logs::App::new(LogKind::Challenge, store.clone(), CursorCodec::from_env()),
            members: ::members::App::new(store.clone(), CursorCodec::from_env()),
            track_user: track_user::App::new(store.clone(), CursorCodec::from_env()),
            processor: Processor::new(store.clone()),
            poller,
            store,
        }
    }

    pub async fn program(&self, kind: ProgramKind, body: Value) -> String {
        let input: ProgramInput = serde_json::from_value(body).unwrap();
        programs::create(&self.store, &self.tenant, kind, input, time::now())
            .await
            .unwrap()
            .id
    }

    pub async fn member(&self, external_id: &str, status: &str) -> String {
        let input: MemberInput =
            serde_json::from_value(json!({"externalId": external_id, "status": status})).unwrap();
        members::create(&self.store, &self.tenant, input, time::now())
            .await
            .unwrap()
            .id
    }

    pub async fn log(&self, kind: LogKind, body: Value) -> (u16, Value) {
        let (app, file) = match kind {
            LogKind::Streak => (&self.streaks, "logs/streak-create.json"),
            LogKind::Freeze => (&self.streaks, "logs/streak-freeze-create.json"),
            LogKind::Challenge => (&self.challenges, "logs/challenge-create.json"),
        };
        let event = events::as_caller(
            events::with_body(events::load(file), &body.to_string()),
            &self.tenant.account_id,
            "live",
            "admin",
        );
        events::parse(app.handle(events::request(&event)).await)
    }

    /// The next batch of this test's own records: tests share one table (and its stream), and
    /// must not process each other's logs.
    pub async fn poll(&mut self) -> (aws_lambda_events::dynamodb::Event, usize) {
        let mut batch = self.poller.poll().await.unwrap();
        let seen = batch.records.len();
        let prefix = format!("{}#", self.tenant.key_prefix());
        batch.records.retain(|r| {
            r.change.keys.get("PK").is_some_and(|pk| {
                serde_json::to_value(pk)
                    .ok()
                    .and_then(|v| v["S"].as_str().map(|s| s.starts_with(&prefix)))
                    .unwrap_or(false)
            })
        });
        (batch, seen)
    }

    /// Everything new on the stream for this test, as one batch, not yet processed.
    pub async fn collect(&mut self) -> aws_lambda_events::dynamodb::Event {
        let (mut all, _) = self.poll().await;
        loop {
            let (batch, seen) = self.poll().await;
            if seen == 0 {
                return all;
            }
            all.records.extend(batch.records);
        }
    }

    /// Hands `batch` to the processor, which must take every record.
    pub async fn process(&self, batch: aws_lambda_events::dynamodb::Event) {
        let response = self.processor.handle(batch).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
    }

    /// Feeds the stream to the processor until it has nothing new; returns the batches.
    pub async fn drain(&mut self) -> Vec<aws_lambda_events::dynamodb::Event> {
        let mut batches = Vec::new();
        loop {
            let (batch, seen) = self.poll().await;
            if seen == 0 {
                return batches;
            }
            self.process(batch.clone()).await;
            batches.push(batch);
        }
    }

    /// `GET /v1/user-journeys/users/{externalId}`.
    pub async fn profile(&self, external_id: &str) -> (u16, Value) {
        let event = events::with_path_param(
            events::load("track-user/get.json"),
            "externalId",
            external_id,
        );
        self.call_track_user(event).await
    }

    /// `POST /v1/user-journeys/users` with `body`.
    pub async fn track(&self, body: Value) -> (u16, Value) {
        let event = events::with_body(events::load("track-user/post.json"), &body.to_string());
        self.call_track_user(event).await
    }

    /// `POST /v1/user-journeys/events` with `body`.
    pub async fn journey_event(&self, body: Value) -> (u16, Value) {
        let event = events::with_body(events::load("track-user/event.json"), &body.to_string());
        self.call_track_user(event).await
    }

    async fn call_track_user(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.tenant.account_id, "live", "admin");
        events::parse(self.track_user.handle(events::request(&event)).await)
    }

    /// A `/schema/account_user/record/{id}` route (`members/{file}`), with an optional body.
    pub async fn member_route(&self, file: &str, id: &str, body: Option<Value>) -> (u16, Value) {
        let mut event = events::with_path_param(events::load(&format!("members/{file}")), "id", id);
        if let Some(body) = body {
            event = events::with_body(event, &body.to_string());
        }
        let event = events::as_caller(event, &self.tenant.account_id, "live", "admin");
        events::parse(self.members.handle(events::request(&event)).await)
    }

    /// Every item of the table that names `needle` in any string (keys, ids, owners), so a
    /// deleted member's leftovers cannot hide in an item kind the test did not think of.
    pub async fn items_naming(&self, needle: &str) -> Vec<Item> {
        fn names(value: &AttributeValue, needle: &str) -> bool {
            match value {
                AttributeValue::S(s) => s.contains(needle),
                AttributeValue::M(m) => m
                    .iter()
                    .any(|(k, v)| k.contains(needle) || names(v, needle)),
                AttributeValue::L(l) => l.iter().any(|v| names(v, needle)),
                _ => false,
            }
        }
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .store
                .client()
                .scan()
                .table_name(self.store.table())
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            found.extend(out.items.unwrap_or_default().into_iter().filter(|item| {
                item.iter()
                    .any(|(k, v)| k.contains(needle) || names(v, needle))
            }));
            start = out.last_evaluated_key;
            if start.is_none() {
                return found;
            }
        }
    }

    pub async fn records(&self, member_id: &str, prefix: &str) -> Vec<Value> {
        self.store
            .member_records(&self.tenant, member_id, prefix)
            .await
            .unwrap()
    }

    /// The member's points entries (newest first) and balance, as the API reads them.
    pub async fn ledger(&self, member_id: &str) -> (Vec<domain::points::PointsEntry>, String) {
        let (entries, _) = self
            .store
            .list_kind(
                &self.tenant,
                domain::points::SLUG,
                Some(member_id),
                &[],
                100,
                None,
            )
            .await
            .unwrap();
        let balance = app::points::balance(&self.store, &self.tenant, member_id)
            .await
            .unwrap();
        (entries, balance.decimal().normalize().to_string())
    }
}

/// The webhook events a stream batch means (what webhook delivery sends), with their ids, read
/// as functions/webhooks/src/delivery.rs reads the images.
pub fn events_of(
    tenant: &Tenant,
    batch: &aws_lambda_events::dynamodb::Event,
) -> Vec<(&'static str, String)> {
    let image = |item: &serde_dynamo::Item| -> Option<Value> {
        (!item.is_empty())
            .then(|| serde_dynamo::from_item(item.clone()).ok())
            .flatten()
    };
    batch
        .records
        .iter()
        .flat_map(|r| {
            let (old, new) = (image(&r.change.old_image), image(&r.change.new_image));
            let sk = new
                .as_ref()
                .or(old.as_ref())
                .and_then(|v| v["SK"].as_str())
                .unwrap_or_default()
                .to_string();
            app::webhook_events::meanings(
                &tenant.key_prefix(),
                &sk,
                old.as_ref(),
                new.as_ref(),
                time::now(),
            )
        })
        .filter_map(|m| match m {
            app::webhook_events::Meaning::Event(e) => Some((e.event_type, e.id)),
            _ => None,
        })
        .collect()
}

pub fn days_ago(n: i64) -> String {
    // Noon UTC, n days back: safely inside that UTC day.
    let day = (Utc::now() - Duration::days(n)).date_naive();
    format!("{day}T12:00:00Z")
}

pub fn summary(records: &[Value]) -> Vec<(String, String, i64)> {
    records
        .iter()
        .map(|r| {
            (
                r["runKey"]
                    .as_str()
                    .or(r["windowKey"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                r["streakProgressStatus"]
                    .as_str()
                    .or(r["challengeProgressStatus"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                r["currentProgressValue"].as_f64().unwrap_or(-1.0) as i64,
            )
        })
        .collect()
}

pub fn day_key(n: i64) -> String {
    (Utc::now() - Duration::days(n)).date_naive().to_string()
}
