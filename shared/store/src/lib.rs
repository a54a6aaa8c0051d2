//! The DynamoDB store behind a narrow interface: one table (`template.yaml`), its key layout in
//! `layout`, items in `codec`, one file per aggregate.

mod accounts;
mod boards;
mod codec;
mod connect;
mod deadlines;
mod error;
mod idempotency;
mod journeys;
mod layout;
mod logs;
mod members;
mod points;
mod programs;
mod progress;
mod queries;
mod shards;
mod webhooks;

pub use accounts::{Account, AccountStatus};
pub use boards::{BoardSummary, ScoreChange, ScoreOwner, ScoreSet, ScoreWrite};
pub use connect::{LOCAL_ACCESS_KEY, LOCAL_REGION};
pub use deadlines::{due_hour, DueKind, DueRecord};
pub use error::StoreError;
pub use idempotency::{Claim, SavedAnswer};
pub use journeys::EventWrite;
pub use layout::{
    tenant_of_key, BOARD_FINISHED_PREFIX, GSI1, GSI2, GSI3, JOURNEY_EVENT_SK, LIST_SHARDS, LOG_SK,
    MEMBER_SK, POINTS_SK,
};
pub use logs::{LogWrite, MemberWrite};
pub use members::MemberFilter;
pub use points::PointsWrite;
pub use progress::{ProgressCommit, ProgressHead, RewardWrite};
pub use queries::Condition;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::{DeleteRequest, Put, TransactWriteItem, WriteRequest};
use aws_sdk_dynamodb::Client;

use codec::s;
use error::classify;

type Item = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    /// `externalId` by member id, as last seen by this instance: a warm function reads a member
    /// by id in one read instead of two. Only a hint: the member item read must carry the id.
    external_ids: Arc<Mutex<HashMap<String, String>>>,
}

/// Hints kept per instance before the cache starts over (bounded memory).
const EXTERNAL_ID_HINTS: usize = 50_000;

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            external_ids: Arc::default(),
        }
    }

    fn external_id_hint(&self, pk: &str) -> Option<String> {
        self.external_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pk)
            .cloned()
    }

    fn remember_external_id(&self, pk: String, external_id: &str) {
        let mut hints = self.external_ids.lock().unwrap_or_else(|e| e.into_inner());
        if hints.len() >= EXTERNAL_ID_HINTS {
            hints.clear();
        }
        hints.insert(pk, external_id.to_string());
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by key. Strongly consistent reads cost twice the read units: only where a write
    /// must be seen at once (members).
    async fn get(
        &self,
        pk: String,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        if !layout::can_exist(&pk, sk) {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction, retrying only when DynamoDB reports a conflicting concurrent transaction
    /// (its outcome is then unknown to us, so the conditions must be evaluated again).
    async fn transact_with_retry(
        &self,
        build: impl Fn() -> Result<Vec<TransactWriteItem>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0u32;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(build()?))
                .send()
                .await
                .map_err(classify);
            match result {
                Err(StoreError::Contended) if attempt < 8 => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other.map(|_| ()),
            }
        }
    }

    /// Deletes items by key, 25 per request, retrying what DynamoDB leaves unprocessed.
    async fn delete_keys(&self, mut keys: Vec<(String, String)>) -> Result<(), StoreError> {
        keys.sort();
        keys.dedup();
        for chunk in keys.chunks(25) {
            let requests = chunk
                .iter()
                .map(|(pk, sk)| {
                    DeleteRequest::builder()
                        .key("PK", s(pk.clone()))
                        .key("SK", s(sk.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Other(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.batch_write(requests).await?;
        }
        Ok(())
    }

    /// One BatchWriteItem of at most 25 requests, sent again with what DynamoDB leaves
    /// unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        until_processed(requests, |requests| async move {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(classify)?;
            Ok(out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default())
        })
        .await
    }

    /// A put or an update built for a transaction, sent on its own (half the price).
    async fn write_one(&self, item: TransactWriteItem) -> Result<(), StoreError> {
        let sent = if let Some(put) = item.put {
            self.client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        } else if let Some(update) = item.update {
            self.client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        } else {
            Err(StoreError::Other(
                "write_one takes a put or an update".into(),
            ))
        };
        sent
    }
}

/// Sends `pending` (a batch operation's requests) until DynamoDB has processed all of it: `send`
/// answers what was left unprocessed, sent again after a backoff; `Throttled` after 10 rounds.
async fn until_processed<T, F, Fut>(mut pending: Vec<T>, send: F) -> Result<(), StoreError>
where
    F: Fn(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut attempt = 0;
    while !pending.is_empty() {
        if attempt > 10 {
            return Err(StoreError::Throttled);
        }
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        pending = send(pending).await?;
        attempt += 1;
    }
    Ok(())
}

pub fn backoff(attempt: u32) -> Duration {
    domain::retry::Backoff::WRITE.delay(attempt)
}
