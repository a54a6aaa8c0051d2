//! Webhook endpoints: one item each, listed per tenant.

use domain::cursor::Position;
use domain::tenant::Tenant;
use domain::time;
use domain::webhooks::Endpoint;

use super::codec::{from_item, from_items, s, stored, Keys};
use super::error::{applied, classify, StoreError};
use super::layout::{list_index_pk, webhook_endpoint_pk, Index, WEBHOOK_ENDPOINT_SK};
use super::*;

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
}
