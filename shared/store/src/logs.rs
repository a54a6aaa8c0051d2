//! Activity logs: one conditional put per log (its key is its idempotency key).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use domain::log::{ActivityLog, LogKind};
use domain::member::{Member, MemberInput};
use domain::tenant::Tenant;
use domain::time::Timestamp;

use super::codec::{from_item, member_update, s, stored, Keys};
use super::error::{cancellation_reasons, classify, StoreError};
use super::layout::{log_pk, member_activity_pk, member_pk, sharded_list_pk, LOG_SK, MEMBER_SK};
use super::*;

impl Store {
    /// A log's program and its owner by `externalId`, in one round trip (the log routes read
    /// both before every log).
    pub async fn program_and_member(
        &self,
        tenant: &Tenant,
        program_id: &str,
        external_id: &str,
    ) -> Result<(Option<domain::program::Program>, Option<Member>), StoreError> {
        let keys = [
            (
                layout::program_pk(tenant, program_id),
                layout::PROGRAM_SK.to_string(),
            ),
            (member_pk(tenant, external_id), MEMBER_SK.to_string()),
        ];
        let mut items = self.items_by_key(&keys, true).await?.into_iter();
        let program = items.next().flatten().map(from_item).transpose()?;
        let member: Option<Member> = items.next().flatten().map(from_item).transpose()?;
        if let Some(m) = &member {
            self.remember_external_id(layout::member_id_pk(tenant, &m.id), external_id);
        }
        Ok((program, member))
    }
}

/// The member side of a log sent with `ownedBy`.
pub enum MemberWrite<'a> {
    Create(Box<Member>),
    Update {
        external_id: &'a str,
        input: &'a MemberInput,
        now: Timestamp,
    },
}

/// What `insert_log` did.
#[derive(Debug)]
pub enum LogWrite {
    Created,
    /// A log with the same (program, `uniqueIdentifier`) was already stored.
    Exists(Box<ActivityLog>),
}

impl Store {
    pub(super) fn log_item(&self, tenant: &Tenant, log: &ActivityLog) -> Result<Item, StoreError> {
        let keys = Keys::table(
            log_pk(tenant, &log.program_id, &log.unique_identifier),
            LOG_SK,
        )
        .listed(
            sharded_list_pk(tenant, log.kind.slug(), &log.id),
            log.id.clone(),
        )
        .member_listed(
            member_activity_pk(tenant, &log.owned_by_id, log.kind.slug()),
            log.id.clone(),
        );
        stored(keys, log)
    }

    /// Writes a log once per (program, `uniqueIdentifier`), with the inline member write if any, all
    /// or nothing. A log that already exists is returned instead, unchanged (the caller compares).
    pub async fn insert_log(
        &self,
        tenant: &Tenant,
        log: &ActivityLog,
        member: Option<&MemberWrite<'_>>,
    ) -> Result<LogWrite, StoreError> {
        let result = self
            .insert_with_member(tenant, self.log_item(tenant, log)?, member)
            .await;
        match result {
            Ok(()) => Ok(LogWrite::Created),
            Err(StoreError::Conflict) => {
                let existing = self
                    .get(
                        log_pk(tenant, &log.program_id, &log.unique_identifier),
                        LOG_SK,
                        true,
                    )
                    .await?
                    .ok_or(StoreError::Contended)?;
                Ok(LogWrite::Exists(Box::new(from_item::<ActivityLog>(
                    existing,
                )?)))
            }
            Err(e) => Err(e),
        }
    }

    /// Puts a new item (a log, a user-journey event) once, with the inline member write if any, all
    /// or nothing: `Conflict` when the item already exists, `Contended` when the member changed.
    pub(super) async fn insert_with_member(
        &self,
        tenant: &Tenant,
        item: Item,
        member: Option<&MemberWrite<'_>>,
    ) -> Result<(), StoreError> {
        let put_new = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        match member {
            None => self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(put_new.item))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
            Some(write) => {
                let mut items = self.member_write_items(tenant, write)?;
                let new_index = items.len();
                items.push(TransactWriteItem::builder().put(put_new).build());
                match self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(err) => {
                        // Did the new item's condition fail, or the member's?
                        let reasons = cancellation_reasons(&err);
                        match reasons.get(new_index) {
                            Some(r) if r.starts_with("ConditionalCheckFailed") => {
                                Err(StoreError::Conflict)
                            }
                            _ if reasons
                                .iter()
                                .any(|r| r.starts_with("ConditionalCheckFailed")) =>
                            {
                                Err(StoreError::Contended)
                            }
                            _ => Err(classify(err)),
                        }
                    }
                }
            }
        }
    }

    /// The member side of a write sent with `ownedBy`, as transaction items.
    pub(super) fn member_write_items(
        &self,
        tenant: &Tenant,
        write: &MemberWrite<'_>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(match write {
            MemberWrite::Create(m) => {
                let (item, id_item) = self.member_items(tenant, m)?;
                vec![self.put_new(item)?, self.put_new(id_item)?]
            }
            MemberWrite::Update {
                external_id,
                input,
                now,
            } => {
                let update = member_update(input, *now, true)?;
                let op = Update::builder()
                    .table_name(&self.table)
                    .key("PK", s(member_pk(tenant, external_id)))
                    .key("SK", s(MEMBER_SK))
                    .update_expression(update.expression)
                    .condition_expression("attribute_exists(PK)")
                    .set_expression_attribute_names(Some(update.names))
                    .set_expression_attribute_values(Some(update.values))
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                vec![TransactWriteItem::builder().update(op).build()]
            }
        })
    }

    pub async fn get_log(
        &self,
        tenant: &Tenant,
        kind: LogKind,
        id: &str,
    ) -> Result<Option<ActivityLog>, StoreError> {
        let item = self
            .get_listed(sharded_list_pk(tenant, kind.slug(), id), id)
            .await?;
        item.map(from_item::<ActivityLog>).transpose()
    }
}
