//! Programs: streaks, challenges, milestones.

use domain::cursor::Position;
use domain::program::{Program, ProgramKind};
use domain::tenant::Tenant;
use domain::time::Timestamp;

use super::codec::{from_item, from_items, s, stored, Keys};
use super::error::{applied, classify, StoreError};
use super::layout::{list_index_pk, program_pk, Index, PROGRAM_SK};
use super::queries::Condition;
use super::*;

impl Store {
    pub(super) fn program_item(
        &self,
        tenant: &Tenant,
        program: &Program,
    ) -> Result<Item, StoreError> {
        stored(
            Keys::table(program_pk(tenant, &program.id), PROGRAM_SK).listed(
                list_index_pk(tenant, program.kind.slug()),
                program.id.clone(),
            ),
            program,
        )
    }

    pub async fn insert_program(
        &self,
        tenant: &Tenant,
        program: &Program,
    ) -> Result<(), StoreError> {
        self.put_if_absent(self.program_item(tenant, program)?)
            .await
    }

    /// Replaces a program read at `seen_updated_at`; `Contended` if it changed since.
    pub async fn replace_program(
        &self,
        tenant: &Tenant,
        program: &Program,
        seen_updated_at: &Timestamp,
    ) -> Result<(), StoreError> {
        self.replace_if_unchanged(self.program_item(tenant, program)?, seen_updated_at)
            .await
    }

    pub async fn get_program(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Program>, StoreError> {
        let item = self.get(program_pk(tenant, id), PROGRAM_SK, true).await?;
        item.map(from_item::<Program>).transpose()
    }

    /// Raises a program's `rulesRev` (one of its milestones changed), so that logs accepted from
    /// now on name a new version. Nothing happens if the program is gone.
    pub async fn bump_program_rules(&self, tenant: &Tenant, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(program_pk(tenant, id)))
            .key("SK", s(PROGRAM_SK))
            .update_expression("ADD rulesRev :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(
                ":one",
                aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
            )
            .send()
            .await
            .map_err(classify);
        applied(result).map(|_| ())
    }

    /// `false` when there was nothing to delete.
    pub async fn delete_program(&self, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
        self.delete_if_exists(program_pk(tenant, id), PROGRAM_SK)
            .await
    }

    /// One page of a tenant's programs of one kind, newest first.
    pub async fn list_programs(
        &self,
        tenant: &Tenant,
        kind: ProgramKind,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Program>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(
                Index::Gsi1,
                list_index_pk(tenant, kind.slug()),
                conditions,
                limit,
                start,
            )
            .await?;
        let programs = from_items(items)?;
        Ok((programs, next))
    }
}
