//! One member's activity (SPEC §3): their logs, progress records or rewards of one kind, newest
//! first. It reads through the logs' and records' own lists, scoped to the member.

use std::collections::BTreeMap;

use domain::cursor::CursorCodec;
use domain::error::ApiError;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use store::Store;

/// `GET /schema/account_user/record/{id}/{activity}`: one member's logs, progress or rewards of
/// one kind, newest first (SPEC §3). An unknown kind is an unknown route.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    id_or_external_id: &str,
    own: Option<&str>,
    activity: &str,
    params: &BTreeMap<String, String>,
    limit: usize,
    now: Timestamp,
) -> Result<(Vec<serde_json::Value>, Option<String>), ApiError> {
    let log_kind = domain::log::LogKind::from_slug(activity);
    let record_kind = crate::records::RecordKind::from_slug(activity);
    if log_kind.is_none() && record_kind.is_none() {
        return Err(ApiError::no_such_route());
    }
    // An end user reads its member's progress and rewards, not its logs.
    if own.is_some() && log_kind.is_some() {
        return Err(ApiError::Forbidden);
    }
    let member = crate::members::resolve_as(store, tenant, id_or_external_id, own).await?;
    let scope = crate::lists::Scope::Member(&member.id);
    match (log_kind, record_kind) {
        (Some(kind), _) => {
            let (logs, next) =
                crate::logs::list(store, codec, tenant, kind, params, scope, limit).await?;
            Ok((logs.iter().map(|l| l.to_record()).collect(), next))
        }
        (_, Some(kind)) => {
            crate::records::list(store, codec, tenant, kind, params, scope, limit, now).await
        }
        (None, None) => Err(ApiError::no_such_route()),
    }
}
