//! Webhook endpoints over the API (SPEC §9): create (its secret shown once), read, list, update,
//! delete, and rotate the secret (the old one keeps signing for 24 h).

use std::collections::BTreeMap;

use domain::cursor::{Binding, CursorCodec};
use domain::error::ApiError;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use domain::webhooks::delivery::Delivery;
use domain::webhooks::{Endpoint, EndpointInput, UrlPolicy};
use serde_json::{json, Value};
use store::Store;

/// How long a rotated secret keeps signing beside the new one.
pub const ROTATION_GRACE_HOURS: i64 = 24;

fn not_found() -> ApiError {
    ApiError::NotFound("No webhook endpoint with this id.".into())
}

/// An endpoint as the API shows it right after its secret was made: the only time it is shown.
pub fn with_secret(endpoint: &Endpoint) -> Value {
    let mut record = endpoint.to_record();
    record["secret"] = json!(endpoint.secret);
    record
}

pub async fn create(
    store: &Store,
    tenant: &Tenant,
    input: EndpointInput,
    policy: UrlPolicy,
    now: Timestamp,
) -> Result<Endpoint, ApiError> {
    input.validate(true, policy)?;
    let endpoint = Endpoint::new(domain::ids::new_id(), input, now);
    store.insert_webhook_endpoint(tenant, &endpoint).await?;
    Ok(endpoint)
}

pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> Result<Endpoint, ApiError> {
    store
        .get_webhook_endpoint(tenant, id)
        .await?
        .ok_or_else(not_found)
}

/// Reads, changes and writes back under the read's `updatedAt`, again when another write won.
async fn update(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    change: impl Fn(&mut Endpoint),
) -> Result<Endpoint, ApiError> {
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        let mut endpoint = get(store, tenant, id).await?;
        let read_at = endpoint.updated_at;
        change(&mut endpoint);
        if store
            .replace_webhook_endpoint(tenant, &endpoint, &read_at)
            .await?
        {
            return Ok(endpoint);
        }
    }
    Err(store::StoreError::Contended.into())
}

pub async fn patch(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    input: EndpointInput,
    policy: UrlPolicy,
    now: Timestamp,
) -> Result<Endpoint, ApiError> {
    input.validate(false, policy)?;
    // Applied to each read: a retry applies it again.
    update(store, tenant, id, |endpoint| {
        endpoint.apply(input.clone(), now)
    })
    .await
}

pub async fn rotate_secret(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    now: Timestamp,
) -> Result<Endpoint, ApiError> {
    update(store, tenant, id, |endpoint| {
        endpoint.rotate_secret(now, chrono::Duration::hours(ROTATION_GRACE_HOURS))
    })
    .await
}

/// The platform disables an endpoint (a 410, or a delivery that failed for days), saying why.
pub async fn disable(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Endpoint, ApiError> {
    update(store, tenant, id, |endpoint| endpoint.disable(reason, now)).await
}

pub async fn delete(store: &Store, tenant: &Tenant, id: &str) -> Result<Endpoint, ApiError> {
    let endpoint = get(store, tenant, id).await?;
    if store.delete_webhook_endpoint(tenant, id).await? {
        Ok(endpoint)
    } else {
        Err(not_found())
    }
}

pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<Endpoint>, Option<String>), ApiError> {
    let filters = BTreeMap::new();
    let binding = Binding {
        tenant,
        query: "webhook_endpoint",
        filters: &filters,
    };
    let start = codec.start(&binding, params)?;
    let (endpoints, next) = store.list_webhook_endpoints(tenant, limit, start).await?;
    Ok((endpoints, next.map(|p| codec.encode(&binding, &p))))
}

fn no_delivery() -> ApiError {
    ApiError::NotFound("No delivery with this id for this endpoint.".into())
}

/// One page of an endpoint's delivery log, newest first.
pub async fn list_deliveries(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    endpoint_id: &str,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<Delivery>, Option<String>), ApiError> {
    get(store, tenant, endpoint_id).await?;
    let filters = BTreeMap::new();
    let query = format!("webhook_delivery#{endpoint_id}");
    let binding = Binding {
        tenant,
        query: &query,
        filters: &filters,
    };
    let start = codec.start(&binding, params)?;
    let (deliveries, next) = store
        .list_deliveries(tenant, endpoint_id, limit, start)
        .await?;
    Ok((deliveries, next.map(|p| codec.encode(&binding, &p))))
}

/// An endpoint that may be sent to: 409 while it is disabled.
async fn enabled(store: &Store, tenant: &Tenant, id: &str) -> Result<Endpoint, ApiError> {
    let endpoint = get(store, tenant, id).await?;
    if endpoint.status != domain::webhooks::EndpointStatus::Enabled {
        return Err(ApiError::Conflict(
            "The endpoint is disabled: enable it first (PATCH status).".into(),
        ));
    }
    Ok(endpoint)
}

/// Sends a delivery again, with the same `webhook-id` (receivers de-duplicate by it): it is due
/// at once, and the delivery sweep sends it (every minute on AWS, every second locally).
pub async fn replay_delivery(
    store: &Store,
    tenant: &Tenant,
    endpoint_id: &str,
    delivery_id: &str,
    now: Timestamp,
) -> Result<Delivery, ApiError> {
    enabled(store, tenant, endpoint_id).await?;
    let mut delivery = store
        .get_delivery(tenant, endpoint_id, delivery_id)
        .await?
        .ok_or_else(no_delivery)?;
    delivery.replay(now);
    store.save_delivery(tenant, &delivery).await?;
    Ok(delivery)
}

/// A test event (`webhook.test`) to one endpoint, whatever its filter: a new delivery, sent by
/// the sweep like a replay.
pub async fn send_test(
    store: &Store,
    tenant: &Tenant,
    endpoint_id: &str,
    now: Timestamp,
) -> Result<Delivery, ApiError> {
    let endpoint = enabled(store, tenant, endpoint_id).await?;
    let id = format!("msg_{}", domain::ids::new_id().replace('-', ""));
    let payload =
        domain::webhooks::payload("webhook.test", now, json!({"endpointId": endpoint.id}));
    let delivery = Delivery::new(id, endpoint.id, "webhook.test", payload, now);
    store.create_delivery(tenant, &delivery).await?;
    Ok(delivery)
}
