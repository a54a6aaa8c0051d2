//! Webhook endpoint routes (SPEC §9) through the real handler, fed with `events/webhooks/*.json`,
//! against DynamoDB Local: the secret is shown once, every bad input is a 4xx that stores nothing.

use domain::cursor::CursorCodec;
use domain::webhooks::UrlPolicy;
use serde_json::{json, Value};
use testkit::{events, test_store};
use webhooks::App;

struct Caller {
    app: App,
    account: String,
}

impl Caller {
    async fn new(urls: UrlPolicy) -> Self {
        Caller {
            app: App::new(test_store().await, CursorCodec::from_env(), urls),
            account: uuid::Uuid::now_v7().to_string(),
        }
    }

    async fn send_as(&self, event: Value, role: &str) -> (u16, Value) {
        let event = events::as_caller(event, &self.account, "live", role);
        events::parse(self.app.handle(events::request(&event)).await)
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        self.send_as(event, "admin").await
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        let event = events::load("webhooks/endpoint-create.json");
        self.send(events::with_body(event, &body.to_string())).await
    }

    async fn on(&self, action: &str, id: &str) -> (u16, Value) {
        let event = events::load(&format!("webhooks/endpoint-{action}.json"));
        self.send(events::with_path_param(event, "id", id)).await
    }

    async fn count(&self) -> usize {
        let (status, body) = self.send(events::load("webhooks/endpoint-list.json")).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    }
}

#[tokio::test]
async fn an_endpoint_through_its_lifecycle_shows_its_secret_only_when_made() {
    let c = Caller::new(UrlPolicy::PublicHttps).await;
    let (status, created) = c.send(events::load("webhooks/endpoint-create.json")).await;
    assert_eq!(status, 201, "{created}");
    let e = &created["data"];
    let id = e["id"].as_str().unwrap();
    let secret = e["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(e["url"], "https://hooks.example.com/gamify");
    assert_eq!(e["status"], "enabled");
    assert_eq!(
        e["events"],
        json!(["reward_log.created", "streak_progress.completed"])
    );

    let (status, read) = c.on("get", id).await;
    assert_eq!(status, 200, "{read}");
    assert!(read["data"].get("secret").is_none(), "{read}");
    assert_eq!(read["data"]["url"], e["url"]);
    assert_eq!(c.count().await, 1);

    let patch = events::with_path_param(events::load("webhooks/endpoint-patch.json"), "id", id);
    let (status, patched) = c
        .send(events::with_body(
            patch,
            r#"{"status": "disabled", "events": null}"#,
        ))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (
            patched["data"]["status"].as_str(),
            &patched["data"]["events"]
        ),
        (Some("disabled"), &json!([]))
    );
    assert!(patched["data"].get("secret").is_none());

    let (status, rotated) = c.on("rotate-secret", id).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["data"]["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    let (status, deleted) = c.on("delete", id).await;
    assert_eq!(
        (status, &deleted["data"]),
        (200, &json!({"id": id, "deleted": true}))
    );
    assert_eq!(c.on("get", id).await.0, 404);
    assert_eq!(c.on("delete", id).await.0, 404);
    assert_eq!(c.on("rotate-secret", id).await.0, 404);
    assert_eq!(c.count().await, 0);
}

#[tokio::test]
async fn every_bad_endpoint_is_a_4xx_and_stores_nothing() {
    let c = Caller::new(UrlPolicy::PublicHttps).await;
    let cases = [
        (json!({}), "url"),
        (json!({"url": "http://hooks.example.com/h"}), "url"),
        (json!({"url": "https://127.0.0.1/h"}), "url"),
        (
            json!({"url": "https://169.254.169.254/latest/meta-data"}),
            "url",
        ),
        (json!({"url": "https://[::1]:8443/h"}), "url"),
        (json!({"url": "https://localhost/h"}), "url"),
        (json!({"url": "nope"}), "url"),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(2100))}),
            "url",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["reward.created"]}),
            "events",
        ),
        (
            json!({"url": "https://example.com/h", "events": "member.created"}),
            "events",
        ),
        (
            json!({"url": "https://example.com/h", "status": "paused"}),
            "status",
        ),
        (
            json!({"url": "https://example.com/h", "secret": "whsec_mine"}),
            "secret",
        ),
        (
            json!({"url": "https://example.com/h", "description": "d".repeat(501)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = c.create(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let fields: Vec<&str> = answer["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{body}: {answer}");
    }
    let (status, _) = c.create(json!({"url": "https://example.com/h"})).await;
    assert_eq!(status, 201);
    let (_, list) = c.send(events::load("webhooks/endpoint-list.json")).await;
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    let patch = events::with_path_param(events::load("webhooks/endpoint-patch.json"), "id", &id);
    let (status, answer) = c.send(events::with_body(patch, r#"{"url": null}"#)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(c.count().await, 1);
}

#[tokio::test]
async fn the_local_run_may_deliver_to_private_addresses() {
    let c = Caller::new(UrlPolicy::AllowPrivate).await;
    let (status, body) = c
        .create(json!({"url": "http://127.0.0.1:9000/hooks"}))
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn endpoints_are_an_admins_and_a_tenants_own() {
    let c = Caller::new(UrlPolicy::PublicHttps).await;
    let (_, created) = c.create(json!({"url": "https://example.com/h"})).await;
    let id = created["data"]["id"].as_str().unwrap();
    let (status, _) = c
        .send_as(events::load("webhooks/endpoint-list.json"), "public")
        .await;
    assert_eq!(status, 403);
    let other = Caller::new(UrlPolicy::PublicHttps).await;
    let event = events::with_path_param(events::load("webhooks/endpoint-get.json"), "id", id);
    let (status, _) = events::parse(
        other
            .app
            .handle(events::request(&events::as_caller(
                event,
                &other.account,
                "live",
                "admin",
            )))
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_delivery_log_test_events_and_replays() {
    let c = Caller::new(UrlPolicy::PublicHttps).await;
    let (_, created) = c.create(json!({"url": "https://example.com/h"})).await;
    let id = created["data"]["id"].as_str().unwrap();
    let list =
        |id: &str| events::with_path_param(events::load("webhooks/deliveries-list.json"), "id", id);
    let (status, log) = c.send(list(id)).await;
    assert_eq!((status, &log["data"]), (200, &json!([])), "{log}");
    assert_eq!(c.send(list("no-such-endpoint")).await.0, 404);

    let test = events::with_path_param(events::load("webhooks/endpoint-test.json"), "id", id);
    let (status, delivery) = c.send(test.clone()).await;
    assert_eq!(status, 202, "{delivery}");
    assert_eq!(delivery["data"]["event"]["type"], "webhook.test");
    assert_eq!(delivery["data"]["status"], "pending");
    let (_, log) = c.send(list(id)).await;
    assert_eq!(log["data"][0]["id"], delivery["data"]["id"], "{log}");

    let replay = |delivery_id: &str| {
        let event =
            events::with_path_param(events::load("webhooks/delivery-replay.json"), "id", id);
        events::with_path_param(event, "deliveryId", delivery_id)
    };
    let delivery_id = delivery["data"]["id"].as_str().unwrap();
    assert_eq!(c.send(replay(delivery_id)).await.0, 202);
    assert_eq!(c.send(replay("msg_unknown")).await.0, 404);

    // A disabled endpoint takes no test and no replay until it is enabled again.
    let patch = events::with_path_param(events::load("webhooks/endpoint-patch.json"), "id", id);
    c.send(events::with_body(patch, r#"{"status": "disabled"}"#))
        .await;
    assert_eq!(c.send(test).await.0, 409);
    assert_eq!(c.send(replay(delivery_id)).await.0, 409);
}
