//! The points ledger (SPEC §11) over the store: credits and spends, entries, balances.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::lists::{self, Scope};
use crate::logs;
use domain::amount::Amount;
use domain::cursor::CursorCodec;
use domain::error::ApiError;
use domain::member::Member;
use domain::points::{PointsEntry, PointsInput, SLUG};
use domain::tenant::Tenant;
use domain::time::Timestamp;
use domain::validate;
use store::{PointsWrite, Store, StoreError};

/// The outcome of a create: the entry, and whether it is a replay of an earlier identical request.
pub struct Created {
    pub entry: PointsEntry,
    pub replayed: bool,
}

/// `POST /schema/points_log/record`: 201 created, the original entry on an identical replay, 409
/// `conflict` when the `uniqueIdentifier` was used with another body, 409 `insufficient_points`
/// when a spend is larger than the balance (nothing stored).
pub async fn create(
    store: &Store,
    tenant: &Tenant,
    body: Value,
    now: Timestamp,
) -> Result<Created, ApiError> {
    let input: PointsInput = validate::decode(body.clone())?;
    let new = input.validate(&body)?;
    let id = domain::ids::new_id();
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        let (member_id, _, member_write) =
            logs::owner(store, tenant, &new.owner, None, now).await?;
        let entry = PointsEntry {
            id: id.clone(),
            owned_by_id: member_id,
            amount: new.amount,
            reason: new.reason.clone(),
            reward_id: None,
            unique_identifier: new.unique_identifier.clone(),
            activity_at: now,
            request_hash: new.request_hash.clone(),
            created_at: now,
        };
        match store
            .insert_points_entry(tenant, &entry, member_write.as_ref(), now)
            .await
        {
            Ok(PointsWrite::Created) => {
                return Ok(Created {
                    entry,
                    replayed: false,
                })
            }
            Ok(PointsWrite::Exists(original)) if original.request_hash == entry.request_hash => {
                return Ok(Created {
                    entry: *original,
                    replayed: true,
                })
            }
            Ok(PointsWrite::Exists(_)) => return Err(ApiError::Conflict(
                "This uniqueIdentifier was already used for a points entry with a different body."
                    .into(),
            )),
            Ok(PointsWrite::Insufficient) => {
                let balance = balance(store, tenant, &entry.owned_by_id).await?;
                return Err(ApiError::InsufficientPoints(format!(
                    "The member's balance is {}; this spend needs {}. Nothing was stored.",
                    serde_json::json!(balance),
                    serde_json::json!(Amount::from(-entry.amount.decimal())),
                )));
            }
            // The member changed or went away meanwhile: read it again.
            Ok(PointsWrite::NoMember) | Err(StoreError::Contended) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Contended.into())
}

/// A member's balance: the sum of its entries.
pub async fn balance(store: &Store, tenant: &Tenant, member_id: &str) -> Result<Amount, ApiError> {
    let balances = store.points_balances(tenant, &[member_id]).await?;
    Ok(Amount::from(balances.first().copied().unwrap_or_default()))
}

/// Members as the API answers them, each with its `pointsBalance` (one batched read).
pub async fn with_balances(
    store: &Store,
    tenant: &Tenant,
    members: &[Member],
    now: Timestamp,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let balances = store.points_balances(tenant, &ids).await?;
    Ok(members
        .iter()
        .zip(balances)
        .map(|(member, balance)| {
            let mut record = member.to_record(now);
            record["pointsBalance"] = serde_json::json!(Amount::from(balance));
            record
        })
        .collect())
}

/// One member as the API answers it, with its `pointsBalance`.
pub async fn with_balance(
    store: &Store,
    tenant: &Tenant,
    member: &Member,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let mut all = with_balances(store, tenant, std::slice::from_ref(member), now).await?;
    Ok(all.pop().unwrap_or(Value::Null))
}

pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> Result<PointsEntry, ApiError> {
    store
        .get_points_entry(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No points_log with this id.".into()))
}

/// Query parameters of the entry list.
pub const LIST_PARAMS: &[&str] = &[
    "limit",
    "cursor",
    "ownedById",
    "activityAtFrom",
    "activityAtTo",
];

/// `GET /schema/points_log/record`: filters `ownedById` (id or externalId) and the `activityAt`
/// range; newest first.
pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<PointsEntry>, Option<String>), ApiError> {
    let conditions = lists::activity_at_range(params)?;
    lists::page(
        store,
        codec,
        tenant,
        SLUG,
        params,
        Scope::Filter,
        &conditions,
        limit,
    )
    .await
}
