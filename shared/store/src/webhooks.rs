//! Webhook endpoints (one item each, listed per tenant) and their deliveries (one item per
//! endpoint and event, in the endpoint's partition, listed per endpoint newest first; pending
//! ones also in the due list the sweeper reads).

use domain::cursor::Position;
use domain::tenant::Tenant;
use domain::time;
use domain::webhooks::delivery::{Delivery, DeliveryStatus};
use domain::webhooks::Endpoint;

use super::codec::{from_item, from_items, s, stored, Keys};
use super::error::{applied, classify, StoreError};
use super::layout::{
    delivery_list_pk, delivery_sk, list_index_pk, tenant_of_key, webhook_endpoint_pk, Index,
    DELIVERIES_DUE_PK, WEBHOOK_ENDPOINT_SK,
};
use super::*;
use aws_sdk_dynamodb::types::AttributeValue;

/// The GSI1 list of a tenant's endpoints.
const ENDPOINTS_SLUG: &str = "webhook_endpoint";

impl Store {
    fn endpoint_item(&self, tenant: &Tenant, endpoint: &Endpoint) -> Result<Item, StoreError> {
        stored(
            Keys::table(
                webhook_endpoint_pk(tenant, &endpoint.id),
                WEBHOOK_ENDPOINT_SK,
            )
            .listed(list_index_pk(tenant, ENDPOINTS_SLUG), endpoint.id.clone()),
            endpoint,
        )
    }

    pub async fn insert_webhook_endpoint(
        &self,
        tenant: &Tenant,
        endpoint: &Endpoint,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.endpoint_item(tenant, endpoint)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn get_webhook_endpoint(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.get(webhook_endpoint_pk(tenant, id), WEBHOOK_ENDPOINT_SK, true)
            .await?
            .map(from_item)
            .transpose()
    }

    /// Replaces an endpoint read at `read_at` (its `updatedAt`); `false` when it changed or went
    /// meanwhile (the caller reads again).
    pub async fn replace_webhook_endpoint(
        &self,
        tenant: &Tenant,
        endpoint: &Endpoint,
        read_at: &time::Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.endpoint_item(tenant, endpoint)?))
            .condition_expression("updatedAt = :read")
            .expression_attribute_values(":read", s(time::format(read_at)))
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// `false` when there was nothing to delete.
    pub async fn delete_webhook_endpoint(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(webhook_endpoint_pk(tenant, id)))
            .key("SK", s(WEBHOOK_ENDPOINT_SK))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// One page of a tenant's endpoints, newest first.
    pub async fn list_webhook_endpoints(
        &self,
        tenant: &Tenant,
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Endpoint>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(
                Index::Gsi1,
                list_index_pk(tenant, ENDPOINTS_SLUG),
                &[],
                limit,
                start,
            )
            .await?;
        Ok((from_items(items)?, next))
    }

    fn delivery_item(&self, tenant: &Tenant, delivery: &Delivery) -> Result<Item, StoreError> {
        let pk = webhook_endpoint_pk(tenant, &delivery.endpoint_id);
        let sk = delivery_sk(&delivery.id);
        let mut keys = Keys::table(pk.clone(), sk.clone()).member_listed(
            delivery_list_pk(tenant, &delivery.endpoint_id),
            format!("{}#{}", time::format(&delivery.created_at), delivery.id),
        );
        // Only pending deliveries are in the due list (a sparse index entry).
        if let (DeliveryStatus::Pending, Some(at)) = (delivery.status, delivery.next_attempt_at) {
            keys = keys.listed(
                DELIVERIES_DUE_PK.into(),
                format!("{}#{pk}#{sk}", time::format(&at)),
            );
        }
        stored(keys, delivery)
    }

    /// Creates a delivery unless one of this event to this endpoint exists: `false` then (a
    /// replayed stream record delivers nothing new).
    pub async fn create_delivery(
        &self,
        tenant: &Tenant,
        delivery: &Delivery,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.delivery_item(tenant, delivery)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// Saves a delivery after an attempt (or a replay).
    pub async fn save_delivery(
        &self,
        tenant: &Tenant,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.delivery_item(tenant, delivery)?))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn get_delivery(
        &self,
        tenant: &Tenant,
        endpoint_id: &str,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(
            webhook_endpoint_pk(tenant, endpoint_id),
            &delivery_sk(id),
            true,
        )
        .await?
        .map(from_item)
        .transpose()
    }

    /// Pending deliveries whose attempt is due at `now`, oldest first, of every tenant.
    pub async fn due_deliveries(
        &self,
        now: &time::Timestamp,
        limit: usize,
    ) -> Result<Vec<(Tenant, Delivery)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(Index::Gsi1.name())
            .key_condition_expression("GSI1PK = :due AND GSI1SK <= :now")
            .expression_attribute_values(":due", s(DELIVERIES_DUE_PK))
            // Every entry of this instant or earlier sorts before `{now}$`.
            .expression_attribute_values(":now", s(format!("{}$", time::format(now))))
            .limit(limit.min(1000) as i32)
            .send()
            .await
            .map_err(classify)?;
        let mut due = Vec::new();
        for item in self.items_of(out.items.unwrap_or_default()).await? {
            let tenant = match item.get("PK") {
                Some(AttributeValue::S(pk)) => tenant_of_key(pk).map_err(StoreError::Other)?,
                _ => continue,
            };
            let delivery: Delivery = from_item(item)?;
            // The index lags the table: what was delivered or rescheduled meanwhile is not due.
            let due_now = delivery.next_attempt_at.is_some_and(|at| at <= *now);
            if delivery.status == DeliveryStatus::Pending && due_now {
                due.push((tenant, delivery));
            }
        }
        Ok(due)
    }

    /// One page of an endpoint's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        tenant: &Tenant,
        endpoint_id: &str,
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Delivery>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(
                Index::Gsi2,
                delivery_list_pk(tenant, endpoint_id),
                &[],
                limit,
                start,
            )
            .await?;
        Ok((from_items(items)?, next))
    }
}
