//! Program operations (SPEC §4) over the store: what the programs function calls.

use std::collections::BTreeMap;

use domain::cursor::{Binding, CursorCodec};
use domain::error::ApiError;
use domain::patch::Patch;
use domain::program::{Program, ProgramInput, ProgramKind};
use domain::tenant::Tenant;
use domain::time::Timestamp;
use store::{Condition, Store, StoreError};

fn not_found(kind: ProgramKind) -> ApiError {
    ApiError::NotFound(format!("No {} with this id.", kind.slug()))
}

/// A milestone's parent must be a streak or challenge of the same tenant (SPEC §4).
async fn check_parent(store: &Store, tenant: &Tenant, milestone: &Program) -> Result<(), ApiError> {
    let (Some(kind), Some(id)) = (
        milestone.linked_schema_slug,
        milestone.linked_schema_record_id.as_deref(),
    ) else {
        return Ok(());
    };
    match store.get_program(tenant, id).await? {
        Some(parent) if parent.kind == kind => Ok(()),
        _ => Err(ApiError::field(
            "linkedSchemaRecordId",
            format!("no {} with this id exists", kind.slug()),
        )),
    }
}

pub async fn create(
    store: &Store,
    tenant: &Tenant,
    kind: ProgramKind,
    input: ProgramInput,
    now: Timestamp,
) -> Result<Program, ApiError> {
    let program = input.apply(kind, None, domain::ids::new_id(), now)?;
    if kind == ProgramKind::Milestone {
        check_parent(store, tenant, &program).await?;
    }
    store.insert_program(tenant, &program).await?;
    bump_parent(store, tenant, &program).await?;
    Ok(program)
}

/// A milestone's change is a change of its parent's rules: logs accepted from now on name the
/// parent's new version, so the stream processor reads the milestones again.
async fn bump_parent(store: &Store, tenant: &Tenant, program: &Program) -> Result<(), ApiError> {
    if program.kind != ProgramKind::Milestone {
        return Ok(());
    }
    if let Some(parent) = program.linked_schema_record_id.as_deref() {
        store.bump_program_rules(tenant, parent).await?;
    }
    Ok(())
}

pub async fn get(
    store: &Store,
    tenant: &Tenant,
    kind: ProgramKind,
    id: &str,
) -> Result<Program, ApiError> {
    match store.get_program(tenant, id).await? {
        Some(p) if p.kind == kind => Ok(p),
        _ => Err(not_found(kind)),
    }
}

pub async fn patch(
    store: &Store,
    tenant: &Tenant,
    kind: ProgramKind,
    id: &str,
    input: ProgramInput,
    now: Timestamp,
) -> Result<Program, ApiError> {
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        let current = get(store, tenant, kind, id).await?;
        let updated = input.apply(kind, Some(&current), current.id.clone(), now)?;
        let parent_changed = !input.linked_schema_slug.is_absent()
            || !matches!(input.linked_schema_record_id, Patch::Absent);
        if kind == ProgramKind::Milestone && parent_changed {
            check_parent(store, tenant, &updated).await?;
        }
        match store
            .replace_program(tenant, &updated, &current.updated_at)
            .await
        {
            Ok(()) => {
                bump_parent(store, tenant, &current).await?;
                if updated.linked_schema_record_id != current.linked_schema_record_id {
                    bump_parent(store, tenant, &updated).await?;
                }
                return Ok(updated);
            }
            Err(StoreError::Contended) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Contended.into())
}

pub async fn delete(
    store: &Store,
    tenant: &Tenant,
    kind: ProgramKind,
    id: &str,
) -> Result<Program, ApiError> {
    let program = get(store, tenant, kind, id).await?;
    if store.delete_program(tenant, id).await? {
        bump_parent(store, tenant, &program).await?;
        Ok(program)
    } else {
        Err(not_found(kind))
    }
}

/// Every query parameter a list of this kind accepts.
pub fn list_params(kind: ProgramKind) -> Vec<&'static str> {
    let mut params = vec!["limit", "cursor"];
    params.extend(list_filters(kind));
    params
}

/// Filters each kind's list accepts, besides `limit` and `cursor`.
fn list_filters(kind: ProgramKind) -> &'static [&'static str] {
    match kind {
        ProgramKind::Milestone => &["status", "linkedSchemaSlug", "linkedSchemaRecordId"],
        _ => &["status"],
    }
}

pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    kind: ProgramKind,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<Program>, Option<String>), ApiError> {
    let filters: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| list_filters(kind).contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(status) = filters.get("status") {
        domain::program::ProgramStatus::from_filter(status)?;
    }
    if let Some(slug) = filters.get("linkedSchemaSlug") {
        if !matches!(slug.as_str(), "streak" | "challenge") {
            return Err(ApiError::field(
                "linkedSchemaSlug",
                "must be streak or challenge",
            ));
        }
    }
    let binding = Binding {
        tenant,
        query: kind.slug(),
        filters: &filters,
    };
    let start = codec.start(&binding, params)?;
    let conditions: Vec<Condition> = list_filters(kind)
        .iter()
        .filter_map(|name| {
            filters
                .get(*name)
                .map(|v| Condition::equals(name, v.clone()))
        })
        .collect();
    let (programs, next) = store
        .list_programs(tenant, kind, &conditions, limit, start)
        .await?;
    Ok((programs, next.map(|p| codec.encode(&binding, &p))))
}
