//! Activity log operations (SPEC §5) over the store: what the log functions call.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::lists::{self, Scope};
use crate::members;
use domain::cursor::CursorCodec;
use domain::error::ApiError;
use domain::log::{ActivityLog, LogInput, LogKind, Owner};
use domain::member::MemberStatus;
use domain::program::{Program, ProgramStatus};
use domain::progress::AggregationMethod;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use domain::validate;
use store::{Condition, LogWrite, MemberWrite, Store, StoreError};

/// The outcome of a create: the log, and whether it is a replay of an earlier identical request.
pub struct Created {
    pub log: ActivityLog,
    pub replayed: bool,
}

/// The program a log names (as read), if it may take logs now (SPEC §5).
fn live_program(
    program: Option<Program>,
    kind: LogKind,
    activity_at: Timestamp,
) -> Result<Program, ApiError> {
    let program = match program {
        Some(p) if p.kind == kind.program_kind() => p,
        _ => {
            return Err(ApiError::field(
                kind.program_field(),
                format!("no {} with this id", kind.program_kind().slug()),
            ))
        }
    };
    if program.status != ProgramStatus::Live {
        return Err(ApiError::NotLive(format!(
            "The {} is {}; only live programs take logs.",
            kind.program_kind().slug(),
            program.status.as_str()
        )));
    }
    let before = program.start_at.is_some_and(|s| activity_at < s);
    let after = program.end_at.is_some_and(|e| activity_at >= e);
    if before || after {
        return Err(ApiError::NotLive(
            "activityAt is outside the challenge's startAt/endAt.".into(),
        ));
    }
    Ok(program)
}

fn no_such_owner() -> ApiError {
    ApiError::field("ownedById", "no member with this id or externalId")
}

/// Who a write names as its owner (a log, a grant, a points entry): the member's id and status,
/// and the member write that goes with it when it is sent with `ownedBy`. `read` is the member as
/// already read by `externalId`, if it was.
pub(crate) async fn owner<'a>(
    store: &Store,
    tenant: &Tenant,
    owner: &'a Owner,
    read: Option<Option<domain::member::Member>>,
    now: Timestamp,
) -> Result<(String, MemberStatus, Option<MemberWrite<'a>>), ApiError> {
    Ok(match owner {
        Owner::Existing(id_or_external_id) => {
            let member = match read {
                Some(member) => member.ok_or_else(no_such_owner)?,
                None => members::resolve(store, tenant, id_or_external_id)
                    .await
                    .map_err(|e| match e {
                        ApiError::NotFound(_) => no_such_owner(),
                        other => other,
                    })?,
            };
            (member.id, member.status, None)
        }
        Owner::Upsert(input) => {
            let external_id = input.external_id().unwrap_or_default();
            let current = match read {
                Some(member) => member,
                // A retry after contention reads it again.
                None => store.member_by_external_id(tenant, external_id).await?,
            };
            match current {
                Some(mut current) => {
                    current.apply(input.as_ref().clone(), now);
                    (
                        current.id.clone(),
                        current.status,
                        Some(MemberWrite::Update {
                            external_id,
                            input,
                            now,
                        }),
                    )
                }
                None => {
                    let member =
                        input
                            .as_ref()
                            .clone()
                            .into_new_member(domain::ids::new_id(), now, true);
                    (
                        member.id.clone(),
                        member.status,
                        Some(MemberWrite::Create(Box::new(member))),
                    )
                }
            }
        }
    })
}

/// `POST /schema/{streak_log|challenge_log}/record`: 201 created, or the original log on an
/// identical replay; 409 when the `uniqueIdentifier` was used with another body.
pub async fn create(
    store: &Store,
    tenant: &Tenant,
    kind: LogKind,
    body: Value,
    now: Timestamp,
) -> Result<Created, ApiError> {
    let input: LogInput = validate::decode(body.clone())?;
    let new = input.validate(kind, &body, now)?;
    // An owner named by externalId is read with the program, in one round trip; a member id is
    // read through its id item (`members::resolve`).
    let external_id = match &new.owner {
        Owner::Existing(x) if uuid::Uuid::try_parse(x).is_err() => Some(x.as_str()),
        Owner::Upsert(input) => input.external_id(),
        Owner::Existing(_) => None,
    };
    let (program, mut read_with_program) = match external_id {
        Some(x) => {
            let (program, member) = store.program_and_member(tenant, &new.program_id, x).await?;
            (program, Some(member))
        }
        None => (store.get_program(tenant, &new.program_id).await?, None),
    };
    let program = live_program(program, kind, new.activity_at)?;
    if program.aggregation_method == Some(AggregationMethod::Sum) && new.activity_value.is_none() {
        return Err(ApiError::field(
            "activityValue",
            "is required: this program sums activityValue",
        ));
    }
    let id = domain::ids::new_id();
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        // Who owns the log, and whether it counts: only logs of live members ever count.
        let (member_id, status, member_write) =
            owner(store, tenant, &new.owner, read_with_program.take(), now).await?;
        let log = ActivityLog {
            id: id.clone(),
            kind,
            program_id: program.id.clone(),
            owned_by_id: member_id,
            activity_at: new.activity_at,
            activity_id: new.activity_id.clone(),
            unique_identifier: new.unique_identifier.clone().unwrap_or_else(|| id.clone()),
            activity_value: new.activity_value,
            counts_toward_progress: status == MemberStatus::Live,
            request_hash: new.request_hash.clone(),
            created_at: now,
            updated_at: now,
            program_version: Some(program.version()),
        };
        match store.insert_log(tenant, &log, member_write.as_ref()).await {
            Ok(LogWrite::Created) => {
                return Ok(Created {
                    log,
                    replayed: false,
                })
            }
            Ok(LogWrite::Exists(original))
                if original.request_hash == log.request_hash
                    || original.request_hash == domain::log::legacy_request_hash(&body) =>
            {
                return Ok(Created {
                    log: *original,
                    replayed: true,
                })
            }
            Ok(LogWrite::Exists(_)) => return Err(ApiError::Conflict(
                "This uniqueIdentifier was already used for this program with a different body."
                    .into(),
            )),
            // The member changed or appeared meanwhile: read it again.
            Err(StoreError::Contended) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Contended.into())
}

pub async fn get(
    store: &Store,
    tenant: &Tenant,
    kind: LogKind,
    id: &str,
) -> Result<ActivityLog, ApiError> {
    store
        .get_log(tenant, kind, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No {} with this id.", kind.slug())))
}

/// Query parameters of log lists.
pub fn list_params(kind: LogKind) -> &'static [&'static str] {
    match kind {
        LogKind::Streak => &[
            "limit",
            "cursor",
            "ownedById",
            "streakId",
            "activityAtFrom",
            "activityAtTo",
        ],
        LogKind::Challenge => &[
            "limit",
            "cursor",
            "ownedById",
            "challengeId",
            "activityAtFrom",
            "activityAtTo",
        ],
        // Grants are few per member: filtered by member and streak only.
        LogKind::Freeze => &["limit", "cursor", "ownedById", "streakId"],
    }
}

/// `GET /schema/{streak_log|challenge_log}/record`: filters `ownedById` (id or externalId),
/// the program id, and `activityAtFrom` (inclusive) / `activityAtTo` (exclusive); newest first.
pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    kind: LogKind,
    params: &BTreeMap<String, String>,
    scope: Scope<'_>,
    limit: usize,
) -> Result<(Vec<ActivityLog>, Option<String>), ApiError> {
    let mut conditions = Vec::new();
    if let Some(program_id) = params.get(kind.program_field()) {
        conditions.push(Condition::equals("programId", program_id.clone()));
    }
    conditions.extend(lists::activity_at_range(params)?);
    lists::page(
        store,
        codec,
        tenant,
        kind.slug(),
        params,
        scope,
        &conditions,
        limit,
    )
    .await
}
