//! Delivery against DynamoDB Local and its stream, with a sender that records what it is asked to
//! send and answers as scripted: a replayed batch sends nothing new, retries keep one id, a 410
//! or the last failure disables the endpoint and says why, a new externalId is no deletion.

use std::collections::VecDeque;
use std::sync::Mutex;

use app::webhook_delivery::{Deliverer, Sender, StoredChange};
use chrono::Duration;
use domain::member::MemberInput;
use domain::tenant::{Environment, Tenant};
use domain::time::{self, Timestamp};
use domain::webhooks::delivery::{Attempt, Delivery, DeliveryStatus, RetrySchedule};
use domain::webhooks::{Endpoint, EndpointStatus, UrlPolicy};
use serde_json::json;
use store::Store;
use testkit::stream::StreamPoller;
use testkit::{test_endpoint, test_store};
use webhooks::delivery::changes_of;

/// Records each send (event type, webhook-id) and answers from a script (then 200).
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String)>>,
    answers: Mutex<VecDeque<Attempt>>,
}

impl Sender for Recorder {
    async fn send(&self, _: &Endpoint, delivery: &Delivery, _: Timestamp) -> Attempt {
        self.sent
            .lock()
            .unwrap()
            .push((delivery.event_type.clone(), delivery.id.clone()));
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Attempt::Answered(200))
    }
}

impl Recorder {
    fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }
}

/// The due list spans every tenant of the table these tests share: one test at a time, so that a
/// sweep sends only its own test's deliveries.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct World {
    deliverer: Deliverer<Recorder>,
    tenant: Tenant,
    poller: StreamPoller,
    endpoint: Endpoint,
}

impl World {
    async fn new(events: serde_json::Value, schedule: RetrySchedule) -> Self {
        let store: Store = test_store().await;
        let tenant = Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live);
        let input =
            serde_json::from_value(json!({"url": "http://127.0.0.1:9/hooks", "events": events}))
                .unwrap();
        let endpoint =
            app::webhooks::create(&store, &tenant, input, UrlPolicy::AllowPrivate, time::now())
                .await
                .unwrap();
        let poller = StreamPoller::new(&store, &test_endpoint().await)
            .await
            .unwrap();
        World {
            deliverer: Deliverer {
                store,
                sender: Recorder::default(),
                schedule,
            },
            tenant,
            poller,
            endpoint,
        }
    }

    /// This tenant's changes on the stream since the last call (other tests share the table).
    async fn changes(&mut self) -> Vec<StoredChange> {
        let prefix = format!("{}#", self.tenant.key_prefix());
        let mut all = Vec::new();
        loop {
            let event = self.poller.poll().await.unwrap();
            if event.records.is_empty() {
                return all;
            }
            all.extend(
                changes_of(&event)
                    .into_iter()
                    .filter(|c| c.pk.starts_with(&prefix)),
            );
        }
    }

    /// Hands this tenant's new changes to the deliverer; the deliveries it created.
    async fn deliver_new(&mut self, now: Timestamp) -> usize {
        let changes = self.changes().await;
        self.deliverer.on_changes(&changes, now).await.unwrap()
    }

    async fn member(&self, external_id: &str) -> domain::member::Member {
        let input: MemberInput =
            serde_json::from_value(json!({"externalId": external_id, "status": "live"})).unwrap();
        app::members::create(&self.deliverer.store, &self.tenant, input, time::now())
            .await
            .unwrap()
    }

    async fn endpoint_now(&self) -> Endpoint {
        app::webhooks::get(&self.deliverer.store, &self.tenant, &self.endpoint.id)
            .await
            .unwrap()
    }

    async fn delivery(&self, id: &str) -> Delivery {
        self.deliverer
            .store
            .get_delivery(&self.tenant, &self.endpoint.id, id)
            .await
            .unwrap()
            .unwrap()
    }
}

#[tokio::test]
async fn a_replayed_batch_sends_nothing_new() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut w = World::new(json!(null), RetrySchedule::default()).await;
    w.member("replayed").await;
    let changes = w.changes().await;
    let now = time::now();
    assert_eq!(w.deliverer.on_changes(&changes, now).await.unwrap(), 1);
    assert_eq!(
        w.deliverer.on_changes(&changes, now).await.unwrap(),
        0,
        "replayed"
    );
    let sent = w.deliverer.sender.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "member.created");
    assert_eq!(
        w.delivery(&sent[0].1).await.status,
        DeliveryStatus::Succeeded
    );
}

#[tokio::test]
async fn retries_keep_the_id_and_a_410_disables_the_endpoint() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut w = World::new(json!(["member.created"]), RetrySchedule::default()).await;
    w.deliverer.sender.answers.lock().unwrap().extend([
        Attempt::Answered(503),
        Attempt::NoAnswer("connection refused".into()),
        Attempt::Answered(410),
    ]);
    w.member("gone").await;
    let now = time::now();
    w.deliver_new(now).await;
    let id = w.deliverer.sender.sent()[0].1.clone();
    let pending = w.delivery(&id).await;
    assert_eq!(
        (pending.status, pending.attempts, pending.last_response_code),
        (DeliveryStatus::Pending, 1, Some(503))
    );
    // 5 s later, ±10 % jitter (stored to the millisecond).
    let wait = pending.next_attempt_at.unwrap() - now;
    assert!((4_499..=5_500).contains(&wait.num_milliseconds()), "{wait}");
    // Not due yet: nothing sent.
    assert_eq!(
        w.deliverer.sweep(now + Duration::seconds(1)).await.unwrap(),
        0
    );
    // The due list is an index: give it a moment to catch up, as the sweep on AWS does.
    let mut later = now + Duration::seconds(6);
    for _ in 0..50 {
        if w.deliverer.sweep(later).await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = w.delivery(&id).await;
    assert_eq!(
        (second.attempts, second.last_error.as_deref()),
        (2, Some("connection refused"))
    );
    later = second.next_attempt_at.unwrap();
    for _ in 0..50 {
        if w.deliverer.sweep(later).await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sent = w.deliverer.sender.sent();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(
        sent.iter().all(|(_, sent_id)| *sent_id == id),
        "one webhook-id"
    );
    assert_eq!(w.delivery(&id).await.status, DeliveryStatus::Failed);
    let endpoint = w.endpoint_now().await;
    assert_eq!(endpoint.status, EndpointStatus::Disabled);
    assert!(endpoint.disabled_reason.unwrap().contains("410"));
}

#[tokio::test]
async fn the_last_failure_gives_up_and_disables_the_endpoint() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let schedule = RetrySchedule {
        delays: vec![std::time::Duration::from_secs(1)],
    };
    let mut w = World::new(json!(null), schedule).await;
    w.deliverer
        .sender
        .answers
        .lock()
        .unwrap()
        .extend([Attempt::Answered(500), Attempt::Answered(500)]);
    w.member("failing").await;
    let now = time::now();
    w.deliver_new(now).await;
    for _ in 0..50 {
        if w.deliverer.sweep(now + Duration::seconds(2)).await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let id = w.deliverer.sender.sent()[0].1.clone();
    let failed = w.delivery(&id).await;
    assert_eq!(
        (failed.status, failed.attempts),
        (DeliveryStatus::Failed, 2)
    );
    let endpoint = w.endpoint_now().await;
    assert_eq!(endpoint.status, EndpointStatus::Disabled);
    assert!(endpoint.disabled_reason.unwrap().contains("2 attempts"));
}

#[tokio::test]
async fn only_subscribed_types_and_no_deletion_for_a_new_external_id() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut w = World::new(json!(["member.deleted"]), RetrySchedule::default()).await;
    let member = w.member("renamed").await;
    let input: MemberInput = serde_json::from_value(json!({"externalId": "renamed-2"})).unwrap();
    app::members::patch(
        &w.deliverer.store,
        &w.tenant,
        &member.id,
        input,
        time::now(),
    )
    .await
    .unwrap();
    w.deliver_new(time::now()).await;
    assert!(
        w.deliverer.sender.sent().is_empty(),
        "{:?}",
        w.deliverer.sender.sent()
    );
    app::members::delete(&w.deliverer.store, &w.tenant, &member.id)
        .await
        .unwrap();
    w.deliver_new(time::now()).await;
    let sent = w.deliverer.sender.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "member.deleted");
}
