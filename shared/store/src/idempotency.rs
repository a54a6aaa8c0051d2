//! Idempotency keys (`Idempotency-Key` on a POST): the key claimed by the first request, then the
//! answer it got, kept for a day (DynamoDB's TTL deletes the item on AWS; a claim past `expiresAt`
//! is free again, so nothing depends on when TTL runs).

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use domain::tenant::Tenant;
use domain::time::Timestamp;

use super::codec::{from_item, s, stored, Keys};
use super::error::{applied, classify, StoreError};
use super::layout::{idempotency_pk, IDEMPOTENCY_SK};
use super::*;

/// An answer as it was sent: replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedAnswer {
    pub status: u16,
    pub body: String,
}

/// What a claim of a key found.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// The key is ours: run the request, then save or release.
    Claimed,
    /// Another request with this key is still running.
    InFlight { fingerprint: String },
    /// A request with this key was answered.
    Answered {
        fingerprint: String,
        answer: SavedAnswer,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyUse {
    fingerprint: String,
    /// Epoch seconds; the table's TTL attribute.
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<SavedAnswer>,
}

impl Store {
    /// Claims `key` for a request with `fingerprint` until `expires_at`, unless a live claim holds it.
    pub async fn claim_idempotency_key(
        &self,
        tenant: &Tenant,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Claim, StoreError> {
        let pk = idempotency_pk(tenant, key);
        let item = stored(
            Keys::table(pk.clone(), IDEMPOTENCY_SK),
            &KeyUse {
                fingerprint: fingerprint.to_string(),
                expires_at: expires_at.timestamp(),
                answer: None,
            },
        )?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR expiresAt <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await
            .map_err(classify);
        if applied(put)? {
            return Ok(Claim::Claimed);
        }
        let Some(found) = self.get(pk, IDEMPOTENCY_SK, true).await? else {
            // Released between our write and our read: the caller's retry claims it.
            return Err(StoreError::Contended);
        };
        let found: KeyUse = from_item(found)?;
        Ok(match found.answer {
            Some(answer) => Claim::Answered {
                fingerprint: found.fingerprint,
                answer,
            },
            None => Claim::InFlight {
                fingerprint: found.fingerprint,
            },
        })
    }

    /// Saves the answer of the request that claimed `key`, replayed to its retries until `until`.
    pub async fn save_idempotent_answer(
        &self,
        tenant: &Tenant,
        key: &str,
        fingerprint: &str,
        answer: &SavedAnswer,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        let answer = serde_dynamo::to_attribute_value(answer)
            .map_err(|e| StoreError::Other(format!("encode answer: {e}")))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(idempotency_pk(tenant, key)))
            .key("SK", s(IDEMPOTENCY_SK))
            .update_expression("SET answer = :answer, expiresAt = :until")
            .condition_expression("fingerprint = :fingerprint")
            .expression_attribute_values(":answer", answer)
            .expression_attribute_values(":until", AttributeValue::N(until.timestamp().to_string()))
            .expression_attribute_values(":fingerprint", s(fingerprint))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Frees `key` after a request that must not be replayed (it failed before acting).
    pub async fn release_idempotency_key(
        &self,
        tenant: &Tenant,
        key: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(idempotency_pk(tenant, key)))
            .key("SK", s(IDEMPOTENCY_SK))
            .condition_expression("fingerprint = :fingerprint AND attribute_not_exists(answer)")
            .expression_attribute_values(":fingerprint", s(fingerprint))
            .send()
            .await
            .map_err(classify);
        applied(delete).map(|_| ())
    }
}
