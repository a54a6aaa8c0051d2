//! Progress reads through the whole path: log API → DynamoDB Local's stream → processor → read API.

use app::members;
use app::programs;
use chrono::{Duration, Utc};
use domain::cursor::CursorCodec;
use domain::log::LogKind;
use domain::member::MemberInput;
use domain::program::{ProgramInput, ProgramKind};
use domain::tenant::{Environment, Tenant};
use domain::time;
use domain::time::Timestamp;
use progress_reads::App;
use serde_json::{json, Value};
use store::Store;
use testkit::stream::StreamPoller;
use testkit::{events, test_endpoint, test_store};

struct World {
    store: Store,
    tenant: Tenant,
    reads: App,
    poller: StreamPoller,
}

impl World {
    async fn new() -> Self {
        let store = test_store().await;
        World {
            tenant: Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live),
            reads: App::new(store.clone(), CursorCodec::from_env()),
            poller: StreamPoller::new(&store, &test_endpoint().await)
                .await
                .unwrap(),
            store,
        }
    }

    async fn program(&self, kind: ProgramKind, body: Value) -> String {
        let input: ProgramInput = serde_json::from_value(body).unwrap();
        programs::create(&self.store, &self.tenant, kind, input, time::now())
            .await
            .unwrap()
            .id
    }

    async fn member(&self, external_id: &str) -> String {
        let input: MemberInput =
            serde_json::from_value(json!({"externalId": external_id, "status": "live"})).unwrap();
        members::create(&self.store, &self.tenant, input, time::now())
            .await
            .unwrap()
            .id
    }

    async fn log(&self, kind: LogKind, body: Value) {
        let file = if kind == LogKind::Streak {
            "logs/streak-create.json"
        } else {
            "logs/challenge-create.json"
        };
        let app = logs::App::new(kind, self.store.clone(), CursorCodec::from_env());
        let event = events::as_caller(
            events::with_body(events::load(file), &body.to_string()),
            &self.tenant.account_id,
            "live",
            "admin",
        );
        let (status, body) = events::parse(app.handle(events::request(&event)).await);
        assert_eq!(status, 201, "{body}");
    }

    /// Applies the stream as the processor would have at `now`.
    async fn process_at(&mut self, now: Timestamp) {
        loop {
            let batch = self.poller.poll().await.unwrap();
            if batch.records.is_empty() {
                return;
            }
            assert!(processor::process_batch(&self.store, &batch.records, now)
                .await
                .is_empty());
        }
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.tenant.account_id, "live", "admin");
        events::parse(self.reads.handle(events::request(&event)).await)
    }

    async fn list(&self, file: &str, query: &[(&str, &str)]) -> Value {
        let (status, body) = self
            .send(events::with_query(
                events::load(&format!("progress/{file}-list.json")),
                query,
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn at(days_ago: i64, hour: u32) -> Timestamp {
    let day = (Utc::now() - Duration::days(days_ago)).date_naive();
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

#[tokio::test]
async fn streak_progress_reads_broken_once_its_next_day_has_passed() {
    let mut w = World::new().await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 5, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.member("user_12345").await;
    w.log(LogKind::Streak, json!({"streakId": streak, "ownedById": "user_12345", "uniqueIdentifier": "a", "activityAt": at(3, 10).to_rfc3339()})).await;
    // Processed on the day of the log: in progress, waiting on the next day.
    w.process_at(at(3, 11)).await;

    let list = w.list("streak-progress", &[]).await;
    let record = &list["data"][0];
    assert_eq!(
        record["streakProgressStatus"], "broken",
        "read today: the next day ended without a log"
    );
    assert_eq!(record["streakBrokenAt"], time::format(&at(1, 0)));
    assert_eq!(record["currentProgressValue"], 1);
    for internal in [
        "PK",
        "SK",
        "GSI1PK",
        "GSI2PK",
        "breaksAt",
        "runKey",
        "runStartDay",
    ] {
        assert!(record.get(internal).is_none(), "no internals: {record}");
    }
    let id = record["id"].as_str().unwrap();
    let (status, got) = w
        .send(events::with_path_param(
            events::load("progress/streak-progress-get.json"),
            "id",
            id,
        ))
        .await;
    assert_eq!(
        (status, got["data"]["streakProgressStatus"].clone()),
        (200, json!("broken"))
    );
    assert_eq!(
        w.list("streak-progress", &[("status", "broken")]).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.list("streak-progress", &[("status", "in_progress")])
            .await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        w.list("streak-progress", &[("streakId", &streak)]).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.list("streak-progress", &[("ownedById", "someone-else")])
            .await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let (status, _) = w
        .send(events::with_query(
            events::load("progress/streak-progress-list.json"),
            &[("status", "failed")],
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        w.send(events::load("progress/streak-progress-get.json"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_challenge_window_reads_failed_after_it_ends_and_rewards_can_be_patched() {
    let mut w = World::new().await;
    let challenge = w
        .program(
            ProgramKind::Challenge,
            json!({"name": "c", "status": "live", "completionTargetValue": 100}),
        )
        .await;
    w.program(ProgramKind::Milestone, json!({"name": "half", "status": "live", "linkedSchemaSlug": "challenge", "linkedSchemaRecordId": challenge, "milestoneTargetValue": 50, "rewardPoints": 5})).await;
    w.member("user_12345").await;
    w.log(LogKind::Challenge, json!({"challengeId": challenge, "ownedById": "user_12345", "uniqueIdentifier": "b", "activityValue": 60, "activityAt": at(2, 9).to_rfc3339()})).await;
    w.process_at(at(2, 10)).await;

    let windows = w.list("challenge-progress", &[]).await;
    assert_eq!(
        windows["data"][0]["challengeProgressStatus"], "failed",
        "the daily window ended below 100"
    );
    assert_eq!(
        windows["data"][0]["challengeFailedAt"],
        time::format(&at(1, 0))
    );
    assert_eq!(windows["data"][0]["currentProgressValue"], 60);

    let rewards = w
        .list("reward-log", &[("linkedSchemaRecordId", &challenge)])
        .await;
    let reward = &rewards["data"][0];
    assert_eq!(
        (
            reward["linkedSchemaSlug"].as_str(),
            reward["couponCode"].clone()
        ),
        (Some("challenge"), Value::Null)
    );
    assert_eq!(reward["milestone"]["rewardPoints"], 5);
    let id = reward["id"].as_str().unwrap();
    let patch = |body: Value| {
        events::with_body(
            events::with_path_param(events::load("progress/reward-log-patch.json"), "id", id),
            &body.to_string(),
        )
    };
    let (status, patched) = w
        .send(events::with_path_param(
            events::load("progress/reward-log-patch.json"),
            "id",
            id,
        ))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (
            patched["data"]["couponCode"].as_str(),
            patched["data"]["rewardExpiryAt"].as_str()
        ),
        (Some("WELCOME-50"), Some("2027-01-31T23:59:59.000Z"))
    );
    for (body, field) in [
        (json!({"milestoneId": "x"}), "milestoneId"),
        (json!({"rewardIssuedAt": "soon"}), "rewardIssuedAt"),
        (json!({"periodKey": "2026-11"}), "periodKey"),
    ] {
        let (status, err) = w.send(patch(body)).await;
        assert_eq!(
            (status, err["error"]["details"][0]["field"].clone()),
            (400, json!(field))
        );
    }
    let (status, cleared) = w.send(patch(json!({"couponCode": null}))).await;
    assert_eq!(
        (status, cleared["data"]["couponCode"].clone()),
        (200, Value::Null)
    );
    let (_, read) = w
        .send(events::with_path_param(
            events::load("progress/reward-log-get.json"),
            "id",
            id,
        ))
        .await;
    assert_eq!(
        read["data"]["rewardExpiryAt"], "2027-01-31T23:59:59.000Z",
        "read your write"
    );
    assert_eq!(
        w.send(events::load("progress/reward-log-patch.json"))
            .await
            .0,
        404
    );

    // Another tenant sees none of it.
    let other = World::new().await;
    assert_eq!(
        other
            .send(events::with_path_param(
                events::load("progress/reward-log-get.json"),
                "id",
                id
            ))
            .await
            .0,
        404
    );
    assert_eq!(
        other.list("reward-log", &[]).await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
