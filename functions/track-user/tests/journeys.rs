//! User Journeys events, batch and timeline (SPEC §7) through the real handler, fed with
//! `events/track-user/{event,track,timeline}.json`, against DynamoDB Local, with the public key.

use domain::cursor::CursorCodec;
use serde_json::{json, Value};
use testkit::{events, test_store};
use track_user::App;

struct Caller {
    app: App,
    account: String,
}

impl Caller {
    async fn new() -> Self {
        Caller {
            app: App::new(test_store().await, CursorCodec::from_env()),
            account: uuid::Uuid::now_v7().to_string(),
        }
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.account, "live", "public");
        events::parse(self.app.handle(events::request(&event)).await)
    }

    async fn event(&self, body: Value) -> (u16, Value) {
        let sample = events::load("track-user/event.json");
        self.send(events::with_body(sample, &body.to_string()))
            .await
    }

    async fn batch(&self, body: &str) -> (u16, Value) {
        self.send(events::with_body(
            events::load("track-user/track.json"),
            body,
        ))
        .await
    }

    async fn timeline(&self, external_id: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let sample = events::with_path_param(
            events::load("track-user/timeline.json"),
            "externalId",
            external_id,
        );
        self.send(events::with_query(sample, query)).await
    }

    async fn profile(&self, external_id: &str) -> (u16, Value) {
        let sample = events::load("track-user/get.json");
        self.send(events::with_path_param(sample, "externalId", external_id))
            .await
    }

    /// The event ids on a user's timeline, in the order answered (every page).
    async fn timeline_ids(&self, external_id: &str) -> Vec<String> {
        let (status, body) = self.timeline(external_id, &[("limit", "1000")]).await;
        assert_eq!(status, 200, "{body}");
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventId"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test]
async fn an_event_is_recorded_once_by_its_id_and_creates_its_user() {
    let c = Caller::new().await;
    let (status, body) = c.send(events::load("track-user/event.json")).await;
    assert_eq!(status, 201, "{body}");
    let d = &body["data"];
    assert_eq!(d["eventId"], "evt-checkout-7");
    assert_eq!(d["externalId"], "user_12345");
    assert_eq!(d["eventType"], "checkout_completed");
    assert_eq!(d["category"], "commerce");
    assert_eq!(d["properties"], json!({"amount": 49.99, "currency": "USD"}));
    assert_eq!(d["occurredAt"], "2026-11-24T09:14:00.000Z");
    // The user did not exist: the event created it, live, seen now.
    let (status, profile) = c.profile("user_12345").await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["data"]["id"], d["userId"]);
    assert_eq!(profile["data"]["status"], "live");
    assert_eq!(profile["data"]["recommendations"], json!([]));

    // The same event again is a replay; the same id with another body is a conflict.
    let (status, again) = c.send(events::load("track-user/event.json")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["idempotentReplayed"], true);
    assert_eq!(again["data"], body["data"]);
    let (status, conflict) = c
        .event(
            json!({"eventId": "evt-checkout-7", "externalId": "user_12345", "eventType": "refund"}),
        )
        .await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(c.timeline_ids("user_12345").await, ["evt-checkout-7"]);

    // Without an eventId every event is a new one.
    for _ in 0..2 {
        let (status, _) = c
            .event(json!({"externalId": "user_12345", "eventType": "app_open"}))
            .await;
        assert_eq!(status, 201);
    }
    assert_eq!(c.timeline_ids("user_12345").await.len(), 3);
}

#[tokio::test]
async fn bad_events_are_400_naming_the_field_and_store_nothing() {
    let c = Caller::new().await;
    let cases = [
        (json!({"eventType": "x"}), "externalId"),
        (json!({"externalId": "ghost"}), "eventType"),
        (json!({"externalId": "ghost", "eventType": ""}), "eventType"),
        (
            json!({"externalId": "ghost", "eventType": "x", "occurredAt": "2099-01-01T00:00:00Z"}),
            "occurredAt",
        ),
        (
            json!({"externalId": "ghost", "eventType": "x", "occurredAt": "monday"}),
            "occurredAt",
        ),
        (
            json!({"externalId": "ghost", "eventType": "x", "properties": "flat"}),
            "properties",
        ),
        (
            json!({"externalId": "ghost", "eventType": "x", "eventId": ""}),
            "eventId",
        ),
        (
            json!({"externalId": "ghost", "eventType": "x", "score": 3}),
            "score",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = c.event(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["details"][0]["field"], field, "{body}");
    }
    let sample = events::load("track-user/event.json");
    let (status, _) = c.send(events::with_body(sample.clone(), "[1]")).await;
    assert_eq!(status, 400);
    let (status, _) = c.send(events::with_body(sample, "{not json")).await;
    assert_eq!(status, 400);
    // No user was created by any of them.
    assert_eq!(c.profile("ghost").await.0, 404);
}

#[tokio::test]
async fn a_batch_answers_one_result_per_event_and_a_resend_changes_nothing() {
    let c = Caller::new().await;
    let (status, body) = c.send(events::load("track-user/track.json")).await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(
        (
            &d["accepted"],
            &d["duplicates"],
            &d["rejected"],
            &d["failed"]
        ),
        (&json!(3), &json!(0), &json!(0), &json!(0))
    );
    let statuses: Vec<&str> = d["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "created", "created"]);
    assert_eq!(d["results"][0]["eventId"], "evt-checkout-7");
    assert_eq!(d["results"][2]["index"], 2);

    // The same batch again (a client retry): the events with an eventId are duplicates and
    // stored once; the third has none, so it is a new event each time (as documented).
    let (status, again) = c.send(events::load("track-user/track.json")).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"]["duplicates"], 2);
    assert_eq!(again["data"]["accepted"], 1);
    assert_eq!(
        c.timeline_ids("user_12345").await,
        ["evt-view-8", "evt-checkout-7"]
    );
    assert_eq!(c.timeline_ids("user_67890").await.len(), 2);
}

#[tokio::test]
async fn a_batch_records_the_good_events_and_names_what_is_wrong_with_the_others() {
    let c = Caller::new().await;
    let body = json!({"events": [
        {"eventId": "a", "externalId": "mixed", "eventType": "login"},
        {"externalId": "mixed"},
        {"eventId": "a", "externalId": "mixed", "eventType": "logout"},
        "not an event",
        {"eventId": "b", "externalId": "mixed", "eventType": "login", "occurredAt": "2026-11-01T00:00:00Z"},
    ]});
    let (status, answer) = c.batch(&body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["data"]["results"].as_array().unwrap().clone();
    let summary: Vec<(u64, &str)> = results
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, "created"),
            (1, "rejected"),
            (2, "rejected"),
            (3, "rejected"),
            (4, "created")
        ]
    );
    assert_eq!(results[1]["error"]["details"][0]["field"], "eventType");
    assert_eq!(
        results[2]["error"]["code"], "conflict",
        "id reused with another body"
    );
    assert_eq!(results[3]["error"]["code"], "validation_failed");
    assert_eq!(answer["data"]["rejected"], 3);
    // Newest occurredAt first.
    assert_eq!(c.timeline_ids("mixed").await, ["a", "b"]);
}

#[tokio::test]
async fn a_batch_refused_as_a_whole_stores_nothing() {
    let c = Caller::new().await;
    let event = json!({"externalId": "crowd", "eventType": "tap"});
    let too_many = json!({"events": vec![event.clone(); 101]});
    let (status, answer) = c.batch(&too_many.to_string()).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "events");
    for body in [
        json!({"events": []}),
        json!({"events": event}),
        json!({}),
        json!({"events": [event], "extra": true}),
    ] {
        assert_eq!(c.batch(&body.to_string()).await.0, 400, "{body}");
    }
    let huge = json!({"events": [{"externalId": "crowd", "eventType": "x", "properties": {"blob": "x".repeat(70_000)}}]});
    assert_eq!(c.batch(&huge.to_string()).await.0, 413);
    assert_eq!(c.profile("crowd").await.0, 404, "nothing was stored");
    // A full batch of 100 is taken.
    let full = json!({"events": vec![event; 100]});
    let (status, answer) = c.batch(&full.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["accepted"], 100);
    assert_eq!(c.timeline_ids("crowd").await.len(), 100);
}

#[tokio::test]
async fn the_timeline_is_newest_first_and_pages_with_a_cursor_bound_to_its_user() {
    let c = Caller::new().await;
    // Sent out of order; the timeline orders by occurredAt.
    for (id, at) in [
        ("e2", "2026-11-02T10:00:00Z"),
        ("e4", "2026-11-04T10:00:00Z"),
        ("e1", "2026-11-01T10:00:00Z"),
        ("e5", "2026-11-05T10:00:00Z"),
        ("e3", "2026-11-03T10:00:00Z"),
    ] {
        let (status, _) = c
            .event(json!({"eventId": id, "externalId": "pager", "eventType": "visit", "occurredAt": at}))
            .await;
        assert_eq!(status, 201);
    }
    c.event(json!({"eventId": "other", "externalId": "someone-else", "eventType": "visit"}))
        .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let (status, page) = c.timeline("pager", &query).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["data"].as_array().unwrap().len() <= 2);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["eventId"].as_str().unwrap().to_string()),
        );
        match page["paging"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        // A cursor continues only its own user's timeline.
        let (status, _) = c
            .timeline("someone-else", &[("cursor", cursor.as_deref().unwrap())])
            .await;
        assert_eq!(status, 400);
    }
    assert_eq!(seen, ["e5", "e4", "e3", "e2", "e1"]);
    assert_eq!(c.timeline("nobody", &[]).await.0, 404);
    assert_eq!(c.timeline("pager", &[("limit", "0")]).await.0, 400);
    assert_eq!(c.timeline("pager", &[("since", "x")]).await.0, 400);
}

#[tokio::test]
async fn tenants_do_not_see_each_others_events() {
    let a = Caller::new().await;
    let b = Caller::new().await;
    a.send(events::load("track-user/event.json")).await;
    assert_eq!(b.timeline("user_12345", &[]).await.0, 404);
    // The same eventId in another tenant is another event.
    let (status, _) = b.send(events::load("track-user/event.json")).await;
    assert_eq!(status, 201);
}
