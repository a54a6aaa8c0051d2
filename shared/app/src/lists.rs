//! One page of a list of logs, progress records or rewards: the tenant's, or one member's through
//! `ownedById` or the member activity routes. The query's filters (besides paging) are bound into
//! the cursor, so a cursor only continues the list it came from.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::members;
use domain::cursor::{Binding, CursorCodec};
use domain::error::ApiError;
use domain::tenant::Tenant;
use store::{Condition, Store};

/// Whose records a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The request's `ownedById` filter, if any (a member id or an externalId); a filter that
    /// names nobody gives an empty list.
    Filter,
    /// A member the route has already resolved (by id): no second lookup.
    Member(&'a str),
}

/// One page of `slug` records in `scope`, newest first, the `conditions` applied.
#[allow(clippy::too_many_arguments)]
pub async fn page<T: for<'de> Deserialize<'de>>(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    slug: &str,
    params: &BTreeMap<String, String>,
    scope: Scope<'_>,
    conditions: &[Condition],
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut filters: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "cursor"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let member_id = match scope {
        Scope::Member(id) => Some(id.to_string()),
        Scope::Filter => match filters.get("ownedById") {
            None => None,
            Some(owner) => match members::resolve(store, tenant, owner).await {
                Ok(member) => Some(member.id),
                Err(ApiError::NotFound(_)) => return Ok((Vec::new(), None)),
                Err(e) => return Err(e),
            },
        },
    };
    // The filter is bound as the member id, so a cursor survives a change of externalId.
    if let Some(id) = &member_id {
        filters.insert("ownedById".into(), id.clone());
    }
    let binding = Binding {
        tenant,
        query: slug,
        filters: &filters,
    };
    let start = codec.start(&binding, params)?;
    let (found, next) = store
        .list_kind(tenant, slug, member_id.as_deref(), conditions, limit, start)
        .await?;
    Ok((found, next.map(|p| codec.encode(&binding, &p))))
}

/// The `activityAtFrom` (inclusive) / `activityAtTo` (exclusive) filters of a list (logs, points
/// entries), as conditions on `activityAt`.
pub(crate) fn activity_at_range(
    params: &BTreeMap<String, String>,
) -> Result<Vec<Condition>, ApiError> {
    let mut conditions = Vec::new();
    for (param, make) in [
        (
            "activityAtFrom",
            Condition::at_least as fn(&'static str, String) -> Condition,
        ),
        ("activityAtTo", Condition::below),
    ] {
        if let Some(raw) = params.get(param) {
            let at = chrono::DateTime::parse_from_rfc3339(raw)
                .map_err(|_| ApiError::field(param, "must be an RFC 3339 timestamp"))?;
            // Stored timestamps share this exact format, so string order is time order.
            conditions.push(make(
                "activityAt",
                domain::time::format(&at.with_timezone(&chrono::Utc)),
            ));
        }
    }
    Ok(conditions)
}
