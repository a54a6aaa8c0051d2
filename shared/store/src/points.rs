//! The points ledger: an entry and the member's balance written in one transaction, so the
//! balance is always the sum of the entries; a spend's condition keeps the balance from going
//! below zero however many race.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use rust_decimal::Decimal;

use domain::points::PointsEntry;
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};

use super::codec::{from_item, s, stored, Keys};
use super::error::{cancellation_reasons, classify, condition_failed, StoreError};
use super::layout::{
    member_activity_pk, member_id_pk, points_pk, sharded_list_pk, MEMBER_ID_SK, POINTS_SK,
};
use super::logs::MemberWrite;
use super::*;

/// What `insert_points_entry` did.
#[derive(Debug)]
pub enum PointsWrite {
    Created,
    /// An entry with the same key was already stored (the caller compares).
    Exists(Box<PointsEntry>),
    /// A spend larger than the balance: nothing was written.
    Insufficient,
    /// No member write was given and the member is gone (deleted meanwhile): nothing was written.
    NoMember,
}

/// Transactions that lost to a concurrent one on the same balance are sent again this many times
/// (many spends of one member may race).
const CONFLICT_RETRIES: u32 = 12;

impl Store {
    /// Writes an entry once per key and moves the member's balance by its amount, all or nothing:
    /// with the inline member write if any; for a spend only if the balance covers it; and, with
    /// no member write, only while the member exists.
    pub async fn insert_points_entry(
        &self,
        tenant: &Tenant,
        entry: &PointsEntry,
        member: Option<&MemberWrite<'_>>,
        now: Timestamp,
    ) -> Result<PointsWrite, StoreError> {
        let keys = Keys::table(points_pk(tenant, entry), POINTS_SK)
            .listed(
                sharded_list_pk(tenant, domain::points::SLUG, &entry.id),
                entry.id.clone(),
            )
            .member_listed(
                member_activity_pk(tenant, &entry.owned_by_id, domain::points::SLUG),
                entry.id.clone(),
            );
        let item = stored(keys, entry)?;
        let amount = entry.amount.decimal();
        let mut attempt = 0;
        loop {
            let mut items = match member {
                Some(write) => self.member_write_items(tenant, write)?,
                None => vec![self.member_exists(tenant, &entry.owned_by_id)?],
            };
            let (entry_index, balance_index) = (items.len(), items.len() + 1);
            items.push(self.put_new(item.clone())?);
            items.push(self.balance_update(tenant, &entry.owned_by_id, amount, now)?);
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let Err(err) = result else {
                return Ok(PointsWrite::Created);
            };
            let reasons = cancellation_reasons(&err);
            let failed = |i: usize| condition_failed(&reasons, i);
            if failed(entry_index) {
                let existing = self
                    .get(points_pk(tenant, entry), POINTS_SK, true)
                    .await?
                    .ok_or(StoreError::Contended)?;
                return Ok(PointsWrite::Exists(Box::new(from_item(existing)?)));
            }
            if failed(balance_index) {
                return Ok(PointsWrite::Insufficient);
            }
            if member.is_none() && failed(0) {
                return Ok(PointsWrite::NoMember);
            }
            if reasons
                .iter()
                .any(|r| r.starts_with("ConditionalCheckFailed"))
            {
                // The member changed or went away: the caller reads it again.
                return Err(StoreError::Contended);
            }
            match classify(err) {
                StoreError::Contended if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return Err(other),
            }
        }
    }

    /// That the member's id item still exists (a member deleted meanwhile takes no entry).
    fn member_exists(
        &self,
        tenant: &Tenant,
        member_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("PK", s(member_id_pk(tenant, member_id)))
            .key("SK", s(MEMBER_ID_SK))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The balance moved by `amount`; a spend (negative) only while the balance covers it.
    fn balance_update(
        &self,
        tenant: &Tenant,
        member_id: &str,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("PK", s(member_id_pk(tenant, member_id)))
            .key("SK", s(POINTS_SK))
            .update_expression("ADD balance :amount SET updatedAt = :now")
            .expression_attribute_values(":amount", AttributeValue::N(amount.to_string()))
            .expression_attribute_values(":now", s(time::format(&now)));
        if amount.is_sign_negative() {
            update = update
                .condition_expression("balance >= :need")
                .expression_attribute_values(":need", AttributeValue::N((-amount).to_string()));
        }
        let update = update
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Members' balances, in the order of `member_ids`: the sum of each one's entries (0 before
    /// the first). One batched read.
    pub async fn points_balances(
        &self,
        tenant: &Tenant,
        member_ids: &[&str],
    ) -> Result<Vec<Decimal>, StoreError> {
        let keys: Vec<(String, String)> = member_ids
            .iter()
            .map(|id| (member_id_pk(tenant, id), POINTS_SK.to_string()))
            .collect();
        let items = self.items_by_key(&keys, true).await?;
        Ok(items
            .iter()
            .map(|item| {
                item.as_ref()
                    .and_then(|i| i.get("balance"))
                    .and_then(|b| b.as_n().ok())
                    .and_then(|n| n.parse::<Decimal>().ok())
                    .unwrap_or_default()
            })
            .collect())
    }

    pub async fn get_points_entry(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<PointsEntry>, StoreError> {
        let item = self
            .get_listed(sharded_list_pk(tenant, domain::points::SLUG, id), id)
            .await?;
        item.map(from_item::<PointsEntry>).transpose()
    }
}
