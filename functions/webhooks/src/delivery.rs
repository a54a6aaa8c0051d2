//! The delivery function (`webhook-delivery`): the table's stream (filtered in template.yaml to
//! progress, reward and member items) becomes deliveries, attempted at once; a schedule (every
//! minute) retries what is due. The local run feeds it the same way.

use app::webhook_delivery::{Deliverer, StoredChange};
use aws_lambda_events::dynamodb::{Event, EventRecord};
use domain::time;
use domain::webhooks::delivery::RetrySchedule;
use domain::webhooks::UrlPolicy;
use serde_json::Value;
use store::{Store, StoreError};

use crate::sender::HttpSender;

pub struct DeliveryFunction {
    pub deliverer: Deliverer<HttpSender>,
}

/// An item image as JSON (`None` when the record has none: an insert's old image).
fn image(item: &serde_dynamo::Item) -> Option<Value> {
    if item.is_empty() {
        return None;
    }
    serde_dynamo::from_item(item.clone()).ok()
}

/// The changes of a stream batch, as the delivery use case reads them.
pub fn changes_of(event: &Event) -> Vec<StoredChange> {
    event.records.iter().filter_map(change_of).collect()
}

fn change_of(record: &EventRecord) -> Option<StoredChange> {
    let keys: Value = serde_dynamo::from_item(record.change.keys.clone()).ok()?;
    Some(StoredChange {
        pk: keys["PK"].as_str()?.to_string(),
        sk: keys["SK"].as_str()?.to_string(),
        old: image(&record.change.old_image),
        new: image(&record.change.new_image),
        at: record.change.approximate_creation_date_time,
    })
}

impl DeliveryFunction {
    pub fn new(store: Store, policy: UrlPolicy, schedule: RetrySchedule) -> Self {
        Self {
            deliverer: Deliverer {
                store,
                sender: HttpSender::new(policy),
                schedule,
            },
        }
    }

    /// URLs per `WEBHOOKS_ALLOW_PRIVATE_URLS`, retries per `WEBHOOK_RETRY_DELAYS`.
    pub async fn from_env() -> Self {
        Self::new(
            Store::from_env().await,
            UrlPolicy::from_env(),
            RetrySchedule::from_env(),
        )
    }

    /// A stream batch: its events delivered (a failure retries the batch; deliveries already
    /// created are not created again).
    pub async fn on_stream(&self, event: &Event) -> Result<usize, StoreError> {
        self.deliverer
            .on_changes(&changes_of(event), time::now())
            .await
    }

    pub async fn sweep(&self) -> Result<usize, StoreError> {
        self.deliverer.sweep(time::now()).await
    }

    /// Lambda's entry: a stream batch (`Records`) or the schedule's event.
    pub async fn handle(&self, payload: Value) -> Result<Value, lambda_runtime::Error> {
        if payload.get("Records").is_some() {
            let event: Event = serde_json::from_value(payload)?;
            let created = self.on_stream(&event).await.map_err(|e| format!("{e:?}"))?;
            Ok(serde_json::json!({"deliveriesCreated": created}))
        } else {
            let attempted = self.sweep().await.map_err(|e| format!("{e:?}"))?;
            Ok(serde_json::json!({"deliveriesAttempted": attempted}))
        }
    }
}
