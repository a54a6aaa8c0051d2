//! Delivering webhook events (SPEC §9), outside the hot path: a function reads the table's stream
//! (the outbox, `webhook_events`), creates one delivery per event and endpoint that wants it —
//! once, so a replayed batch sends nothing new — and attempts it; a sweep retries what is due.
//! Sending is a port (`Sender`): the delivery function sends over HTTPS.

use std::collections::HashMap;
use std::future::Future;

use domain::tenant::Tenant;
use domain::time::Timestamp;
use domain::webhooks::delivery::{Attempt, Delivery, EndpointChange, RetrySchedule};
use domain::webhooks::{Endpoint, EndpointStatus};
use futures_util::StreamExt;
use serde_json::Value;
use store::{Store, StoreError};

use crate::webhook_events::{meanings, Meaning, OutboundEvent};

/// Sends one delivery to one endpoint, signed (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`), and says how it ended.
pub trait Sender {
    fn send(
        &self,
        endpoint: &Endpoint,
        delivery: &Delivery,
        now: Timestamp,
    ) -> impl Future<Output = Attempt> + Send;
}

/// One change of a stored item, as the stream carries it (images as JSON).
#[derive(Debug, Clone)]
pub struct StoredChange {
    pub pk: String,
    pub sk: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub at: Timestamp,
}

/// Deliveries attempted at once by one invocation.
const CONCURRENT_SENDS: usize = 16;
/// Due deliveries one sweep takes.
const SWEEP_LIMIT: usize = 200;

pub struct Deliverer<S> {
    pub store: Store,
    pub sender: S,
    pub schedule: RetrySchedule,
}

impl<S: Sender + Sync> Deliverer<S> {
    /// The events of a batch of changes: a delivery per endpoint that wants each (created once),
    /// each attempted now. Returns the deliveries it created.
    pub async fn on_changes(
        &self,
        changes: &[StoredChange],
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let mut endpoints: HashMap<String, Vec<Endpoint>> = HashMap::new();
        let mut fresh: Vec<(Tenant, Endpoint, Delivery)> = Vec::new();
        for change in changes {
            let Ok(tenant) = store::tenant_of_key(&change.pk) else {
                continue;
            };
            let prefix = tenant.key_prefix();
            for meaning in meanings(
                &prefix,
                &change.sk,
                change.old.as_ref(),
                change.new.as_ref(),
                change.at,
            ) {
                let event: OutboundEvent = match meaning {
                    Meaning::Event(event) => event,
                    Meaning::DeletedUnlessRenamed { member_id, event } => {
                        // A new externalId removes and re-inserts the member item: not a deletion.
                        if self
                            .store
                            .member_by_id(&tenant, &member_id)
                            .await?
                            .is_some()
                        {
                            continue;
                        }
                        event
                    }
                };
                if !endpoints.contains_key(&prefix) {
                    endpoints.insert(prefix.clone(), self.all_endpoints(&tenant).await?);
                }
                for endpoint in endpoints[&prefix]
                    .iter()
                    .filter(|e| e.wants(event.event_type))
                {
                    let delivery = Delivery::new(
                        event.id.clone(),
                        endpoint.id.clone(),
                        event.event_type,
                        event.body.clone(),
                        now,
                    );
                    if self.store.create_delivery(&tenant, &delivery).await? {
                        fresh.push((tenant.clone(), endpoint.clone(), delivery));
                    }
                }
            }
        }
        let created = fresh.len();
        self.attempt_all(fresh, now).await?;
        Ok(created)
    }

    /// Attempts every pending delivery that is due; returns how many it attempted.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        // Many due deliveries of one endpoint (its outage) read the endpoint once.
        let mut endpoints: HashMap<(String, String), Option<Endpoint>> = HashMap::new();
        let mut due = Vec::new();
        for (tenant, mut delivery) in self.store.due_deliveries(&now, SWEEP_LIMIT).await? {
            let key = (tenant.key_prefix(), delivery.endpoint_id.clone());
            if !endpoints.contains_key(&key) {
                let endpoint = self
                    .store
                    .get_webhook_endpoint(&tenant, &delivery.endpoint_id)
                    .await?;
                endpoints.insert(key.clone(), endpoint);
            }
            match &endpoints[&key] {
                Some(endpoint) if endpoint.status == EndpointStatus::Enabled => {
                    due.push((tenant, endpoint.clone(), delivery))
                }
                // Deleted or disabled meanwhile: given up (a replay sends it again).
                _ => {
                    delivery.give_up("the endpoint is disabled or deleted", now);
                    self.store.save_delivery(&tenant, &delivery).await?;
                }
            }
        }
        let attempted = due.len();
        self.attempt_all(due, now).await?;
        Ok(attempted)
    }

    async fn attempt_all(
        &self,
        deliveries: Vec<(Tenant, Endpoint, Delivery)>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let results: Vec<Result<(), StoreError>> = futures_util::stream::iter(deliveries)
            .map(|(tenant, endpoint, delivery)| async move {
                self.attempt(&tenant, &endpoint, delivery, now).await
            })
            .buffer_unordered(CONCURRENT_SENDS)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// One attempt, recorded; a 410 or the last failure disables the endpoint, saying why.
    pub async fn attempt(
        &self,
        tenant: &Tenant,
        endpoint: &Endpoint,
        mut delivery: Delivery,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let attempt = self.sender.send(endpoint, &delivery, now).await;
        let change = delivery.record(attempt, now, &self.schedule);
        self.store.save_delivery(tenant, &delivery).await?;
        if let EndpointChange::Disable(reason) = change {
            tracing::warn!(endpoint = endpoint.id, reason, "webhook endpoint disabled");
            crate::webhooks::disable(&self.store, tenant, &endpoint.id, &reason, now)
                .await
                .map_err(|e| StoreError::Other(e.to_string()))?;
        }
        Ok(())
    }

    async fn all_endpoints(&self, tenant: &Tenant) -> Result<Vec<Endpoint>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self
                .store
                .list_webhook_endpoints(tenant, 1000, start)
                .await?;
            all.extend(page);
            match next {
                Some(next) => start = Some(next),
                None => return Ok(all),
            }
        }
    }
}
