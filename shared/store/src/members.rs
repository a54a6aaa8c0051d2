//! Members: the item by `externalId`, the id item, analytics, the deletion cascade.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};

use domain::cursor::Position;
use domain::member::{Member, MemberInput, MemberStatus};
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};

use super::codec::{from_item, from_items, member_update, s, stored, unchanged_since, Keys};
use super::error::{applied, cancellation_reasons, classify, StoreError};
use super::layout::{
    member_activity_pk, member_id_pk, member_pk, sharded_list_pk, Index, MEMBERS_SLUG,
    MEMBER_ACTIVITY_SLUGS, MEMBER_ID_SK, MEMBER_SK,
};
use super::queries::Condition;
use super::*;

/// Filters of `GET /schema/account_user/record` other than `externalId` (a direct lookup).
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub status: Option<MemberStatus>,
    pub email: Option<String>,
}

impl Store {
    pub(super) fn member_items(
        &self,
        tenant: &Tenant,
        member: &Member,
    ) -> Result<(Item, Item), StoreError> {
        let item = stored(
            Keys::table(member_pk(tenant, &member.external_id), MEMBER_SK).listed(
                sharded_list_pk(tenant, MEMBERS_SLUG, &member.id),
                member.id.clone(),
            ),
            member,
        )?;
        let id_item = HashMap::from([
            ("PK".to_string(), s(member_id_pk(tenant, &member.id))),
            ("SK".to_string(), s(MEMBER_ID_SK)),
            ("externalId".to_string(), s(member.external_id.clone())),
        ]);
        Ok((item, id_item))
    }

    /// Creates a member; `Conflict` when its `externalId` is taken. Uniqueness is the table's
    /// primary key, checked inside the transaction, so concurrent creates cannot both win.
    pub async fn insert_member(&self, tenant: &Tenant, member: &Member) -> Result<(), StoreError> {
        let (item, id_item) = self.member_items(tenant, member)?;
        self.transact_with_retry(|| {
            Ok(vec![
                self.put_new(item.clone())?,
                self.put_new(id_item.clone())?,
            ])
        })
        .await
    }

    pub async fn member_by_external_id(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<Member>, StoreError> {
        let item = self
            .get(member_pk(tenant, external_id), MEMBER_SK, true)
            .await?;
        let member = item.map(from_item::<Member>).transpose()?;
        if let Some(m) = &member {
            self.remember_external_id(member_id_pk(tenant, &m.id), external_id);
        }
        Ok(member)
    }

    pub async fn member_by_id(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Member>, StoreError> {
        let pk = member_id_pk(tenant, id);
        if let Some(external_id) = self.external_id_hint(&pk) {
            if let Some(m) = self.member_by_external_id(tenant, &external_id).await? {
                if m.id == id {
                    return Ok(Some(m));
                }
            }
        }
        // The externalId may change between the two reads; a second round sees the new one.
        for _ in 0..3 {
            let item = self
                .get(member_id_pk(tenant, id), MEMBER_ID_SK, true)
                .await?;
            let Some(AttributeValue::S(external_id)) =
                item.and_then(|mut i| i.remove("externalId"))
            else {
                return Ok(None);
            };
            match self.member_by_external_id(tenant, &external_id).await? {
                Some(m) if m.id == id => return Ok(Some(m)),
                _ => continue,
            }
        }
        Ok(None)
    }

    /// Updates the fields `input` changes on the member with this `externalId`, in one write.
    /// `None` when no such member exists. `seen` also moves `lastSeenAt` (track-user, activity).
    pub async fn update_member(
        &self,
        tenant: &Tenant,
        external_id: &str,
        input: &MemberInput,
        now: Timestamp,
        seen: bool,
    ) -> Result<Option<Member>, StoreError> {
        let update = member_update(input, now, seen)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, external_id)))
            .key("SK", s(MEMBER_SK))
            .update_expression(update.expression)
            .condition_expression("attribute_exists(PK)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(out) => out.attributes.map(from_item::<Member>).transpose(),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves a member to a new `externalId` (the key), keeping its id: deletes the old item only if
    /// unchanged since it was read, creates the new one only if the new `externalId` is free.
    pub async fn replace_member(
        &self,
        tenant: &Tenant,
        old: &Member,
        new: &Member,
    ) -> Result<(), StoreError> {
        let new = Member {
            rev: old.rev + 1,
            ..new.clone()
        };
        let (item, id_item) = self.member_items(tenant, &new)?;
        let delete_old = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, &old.external_id)))
            .key("SK", s(MEMBER_SK))
            .condition_expression(unchanged_since(old.rev))
            .expression_attribute_values(":rev", AttributeValue::N(old.rev.to_string()))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let put_id = Put::builder()
            .table_name(&self.table)
            .set_item(Some(id_item))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete_old).build())
            .transact_items(self.put_new(item)?)
            .transact_items(TransactWriteItem::builder().put(put_id).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                // Which condition failed decides the answer: the old item (changed meanwhile) or the new key (taken).
                match cancellation_reasons(&err).first() {
                    Some(r) if r.starts_with("ConditionalCheckFailed") => {
                        Err(StoreError::Contended)
                    }
                    _ => Err(classify(err)),
                }
            }
        }
    }

    /// Writes the processor's view of a member's activity (`activity`, `lastSeenAt`) if the member
    /// item is still the one read (same id, same revision). `false` when it changed meanwhile:
    /// read it again and retry.
    pub async fn update_member_activity(
        &self,
        tenant: &Tenant,
        read: &Member,
        activity: &domain::analytics::ActivityStats,
        last_seen_at: Option<&Timestamp>,
    ) -> Result<bool, StoreError> {
        let activity = serde_dynamo::to_attribute_value(activity)
            .map_err(|e| StoreError::Other(format!("encode activity: {e}")))?;
        let last_seen = last_seen_at
            .map(|t| s(time::format(t)))
            .unwrap_or(AttributeValue::Null(true));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, &read.external_id)))
            .key("SK", s(MEMBER_SK))
            .update_expression("SET activity = :activity, lastSeenAt = :seen, rev = :next")
            .condition_expression(format!("id = :id AND ({})", unchanged_since(read.rev)))
            .expression_attribute_values(":activity", activity)
            .expression_attribute_values(":seen", last_seen)
            .expression_attribute_values(":id", s(read.id.clone()))
            .expression_attribute_values(":rev", AttributeValue::N(read.rev.to_string()))
            .expression_attribute_values(":next", AttributeValue::N((read.rev + 1).to_string()))
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// Deletes a member and its id item. `false` when it was already gone.
    pub async fn delete_member(
        &self,
        tenant: &Tenant,
        member: &Member,
    ) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, &member.external_id)))
            .key("SK", s(MEMBER_SK))
            .condition_expression("id = :id")
            .expression_attribute_values(":id", s(member.id.clone()))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let delete_id = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(member_id_pk(tenant, &member.id)))
            .key("SK", s(MEMBER_ID_SK))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let result = self
            .transact_with_retry(|| {
                Ok(vec![
                    TransactWriteItem::builder().delete(delete.clone()).build(),
                    TransactWriteItem::builder()
                        .delete(delete_id.clone())
                        .build(),
                ])
            })
            .await;
        applied(result)
    }

    /// Removes everything a deleted member left behind (SPEC §3): its partition (period items,
    /// progress, rewards, processor state), its logs and user-journey events (found on GSI2), plus
    /// `orphans`, the table keys of logs or events known to be its own (GSI2 may not show a
    /// just-written one yet). Idempotent; repeats until a pass
    /// finds nothing. Refuses (`Contended`) while the member's id is still taken.
    pub async fn delete_member_activity(
        &self,
        tenant: &Tenant,
        member_id: &str,
        orphans: &[(String, String)],
    ) -> Result<usize, StoreError> {
        let pk = member_id_pk(tenant, member_id);
        if self.get(pk.clone(), MEMBER_ID_SK, true).await?.is_some() {
            return Err(StoreError::Contended);
        }
        // Scores leave their boards' histograms before the partition goes.
        self.leave_boards(tenant, member_id).await?;
        let mut keys: Vec<(String, String)> = orphans.to_vec();
        let mut deleted = 0;
        loop {
            let mut items = self.query_range(pk.clone(), "!", "~").await?;
            for slug in MEMBER_ACTIVITY_SLUGS {
                let mut start = None;
                loop {
                    let (page, next) = self
                        .query_index_entries(
                            Index::Gsi2,
                            member_activity_pk(tenant, member_id, slug),
                            &[],
                            1000,
                            start,
                        )
                        .await?;
                    items.extend(page);
                    match next {
                        Some(n) => start = Some(n),
                        None => break,
                    }
                }
            }
            keys.extend(items.into_iter().filter_map(|mut item| {
                match (item.remove("PK"), item.remove("SK")) {
                    (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk, sk)),
                    _ => None,
                }
            }));
            if keys.is_empty() {
                return Ok(deleted);
            }
            deleted += keys.len();
            self.delete_keys(std::mem::take(&mut keys)).await?;
        }
    }

    /// One page of a tenant's members, newest first, at most `limit` long.
    pub async fn list_members(
        &self,
        tenant: &Tenant,
        filter: &MemberFilter,
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Member>, Option<Position>), StoreError> {
        let mut conditions = Vec::new();
        if let Some(status) = filter.status {
            conditions.push(Condition::equals("status", status.as_str()));
        }
        if let Some(email) = &filter.email {
            conditions.push(Condition::equals("email", email.clone()));
        }
        let (items, next) = self
            .query_index_shards(
                Index::Gsi1,
                super::layout::list_shard_pks(tenant, MEMBERS_SLUG),
                &conditions,
                limit,
                start,
            )
            .await?;
        let members = from_items(items)?;
        Ok((members, next))
    }
}
