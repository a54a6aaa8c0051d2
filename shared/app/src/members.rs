//! Member operations (SPEC §3) over the store: what the members and track-user functions call.

use std::collections::BTreeMap;

use domain::cursor::{Binding, CursorCodec};
use domain::error::ApiError;
use domain::member::{Member, MemberInput, MemberStatus, WriteMode};
use domain::patch::Patch;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use store::{MemberFilter, Store, StoreError};

fn external_id_taken() -> ApiError {
    ApiError::Conflict("A member with this externalId already exists.".into())
}

fn not_found() -> ApiError {
    ApiError::NotFound("No member with this id or externalId.".into())
}

/// `POST /schema/account_user/record`: 409 if the `externalId` exists.
pub async fn create(
    store: &Store,
    tenant: &Tenant,
    input: MemberInput,
    now: Timestamp,
) -> Result<Member, ApiError> {
    input.validate(WriteMode::Create)?;
    let member = input.into_new_member(domain::ids::new_id(), now, false);
    match store.insert_member(tenant, &member).await {
        Ok(()) => Ok(member),
        Err(StoreError::Conflict) => Err(external_id_taken()),
        Err(e) => Err(e.into()),
    }
}

/// Creates or updates by `externalId`; `true` when created. `mode` is `Create` for `/schema`
/// upserts (a new member needs `status`) and `Upsert` for track-user (status defaults to live).
/// `seen` marks a track-user call or activity, which moves `lastSeenAt`.
pub async fn upsert(
    store: &Store,
    tenant: &Tenant,
    input: MemberInput,
    mode: WriteMode,
    now: Timestamp,
    seen: bool,
) -> Result<(Member, bool), ApiError> {
    input.validate(WriteMode::Upsert)?;
    let external_id = input.external_id().unwrap_or_default().to_string();
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        if let Some(member) = store
            .update_member(tenant, &external_id, &input, now, seen)
            .await?
        {
            return Ok((member, false));
        }
        if mode == WriteMode::Create {
            input.validate(WriteMode::Create)?;
        }
        let member = input
            .clone()
            .into_new_member(domain::ids::new_id(), now, seen);
        match store.insert_member(tenant, &member).await {
            Ok(()) => return Ok((member, true)),
            // Someone created it first: loop round and update theirs.
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Contended.into())
}

/// `{id}` is the member id or, failing that, the `externalId` (SPEC §3).
pub async fn resolve(
    store: &Store,
    tenant: &Tenant,
    id_or_external_id: &str,
) -> Result<Member, ApiError> {
    if uuid::Uuid::try_parse(id_or_external_id).is_ok() {
        if let Some(member) = store.member_by_id(tenant, id_or_external_id).await? {
            return Ok(member);
        }
    }
    store
        .member_by_external_id(tenant, id_or_external_id)
        .await?
        .ok_or_else(not_found)
}

/// `resolve` as a caller may see it: an end user (`own` = its token's externalId) sees only its
/// own member; any other answers 404, as an unknown id does.
pub async fn resolve_as(
    store: &Store,
    tenant: &Tenant,
    id_or_external_id: &str,
    own: Option<&str>,
) -> Result<Member, ApiError> {
    let member = resolve(store, tenant, id_or_external_id).await?;
    match own {
        Some(external_id) if member.external_id != external_id => Err(not_found()),
        _ => Ok(member),
    }
}

/// `PATCH …/{id}`: partial update; `null` clears; a new `externalId` keeps the uniqueness rule.
pub async fn patch(
    store: &Store,
    tenant: &Tenant,
    id_or_external_id: &str,
    input: MemberInput,
    now: Timestamp,
) -> Result<Member, ApiError> {
    input.validate(WriteMode::Patch)?;
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        let current = resolve(store, tenant, id_or_external_id).await?;
        match &input.external_id {
            Patch::Value(new_external_id) if *new_external_id != current.external_id => {
                let mut moved = current.clone();
                moved.apply(input.clone(), now);
                match store.replace_member(tenant, &current, &moved).await {
                    Ok(()) => return Ok(moved),
                    Err(StoreError::Conflict) => return Err(external_id_taken()),
                    Err(StoreError::Contended) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            _ => {
                if let Some(member) = store
                    .update_member(tenant, &current.external_id, &input, now, false)
                    .await?
                {
                    return Ok(member);
                }
                // Deleted or moved meanwhile: resolve again.
            }
        }
    }
    Err(StoreError::Contended.into())
}

/// `DELETE …/{id}`: the member is gone at once; the stream processor removes its logs, progress
/// and rewards afterwards (`processor`, deletion cascade).
pub async fn delete(
    store: &Store,
    tenant: &Tenant,
    id_or_external_id: &str,
) -> Result<Member, ApiError> {
    let member = resolve(store, tenant, id_or_external_id).await?;
    if store.delete_member(tenant, &member).await? {
        Ok(member)
    } else {
        Err(not_found())
    }
}

pub const LIST_PARAMS: &[&str] = &["limit", "cursor", "status", "externalId", "email"];

/// `GET /schema/account_user/record` with `status`, `externalId`, `email` filters and cursor paging.
pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<Member>, Option<String>), ApiError> {
    let filters: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "status" | "externalId" | "email"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let status = match filters.get("status") {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<MemberStatus>(serde_json::Value::String(s.clone()))
                .map_err(|_| ApiError::field("status", "must be draft, live or paused"))?,
        ),
    };
    let binding = Binding {
        tenant,
        query: "account_user",
        filters: &filters,
    };
    let start = codec.start(&binding, params)?;

    if let Some(external_id) = filters.get("externalId") {
        // A direct lookup: at most one member, so no further page.
        let found = store.member_by_external_id(tenant, external_id).await?;
        let matches = found.filter(|m| {
            status.is_none_or(|s| m.status == s)
                && filters
                    .get("email")
                    .is_none_or(|e| m.email.as_ref() == Some(e))
        });
        return Ok((matches.into_iter().collect(), None));
    }
    let filter = MemberFilter {
        status,
        email: filters.get("email").cloned(),
    };
    let (members, next) = store.list_members(tenant, &filter, limit, start).await?;
    Ok((members, next.map(|p| codec.encode(&binding, &p))))
}
