//! GamifyHost's User Journeys beside track-user (SPEC §7): events, the batch, the timeline, and
//! the profile with its recommendations. Events are stored once per event id; the stream
//! processor folds them into the member's `totalEvents` and `lastSeenAt` like logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::cache::Recent;
use crate::lists::{self, Scope};
use crate::records::RecordKind;
use domain::cursor::CursorCodec;
use domain::error::ApiError;
use domain::journey::{self, Candidate, EventInput, JourneyEvent, NewEvent, EVENT_SLUG};
use domain::member::{Member, MemberInput};
use domain::patch::Patch;
use domain::program::{Program, ProgramKind, ProgramStatus};
use domain::tenant::Tenant;
use domain::time::Timestamp;
use rust_decimal::Decimal;
use store::{Condition, EventWrite, MemberWrite, Store, StoreError};

/// What recording one event did.
#[derive(Debug)]
pub struct Recorded {
    pub event: JourneyEvent,
    /// The same event (id and body) was already recorded: nothing changed.
    pub replayed: bool,
}

/// `POST /v1/user-journeys/events`: records one event of a user, creating the user (live) if it is
/// new. Idempotent by `eventId`: the same id and body again is a replay; the same id with another
/// body is 409.
pub async fn record(
    store: &Store,
    tenant: &Tenant,
    body: Value,
    now: Timestamp,
) -> Result<Recorded, ApiError> {
    record_valid(store, tenant, validate(body, now)?, None, now).await
}

/// The rules an event meets before it is looked at (SPEC §7, docs/DECISIONS.md).
fn validate(body: Value, now: Timestamp) -> Result<NewEvent, ApiError> {
    let input: EventInput = domain::validate::decode(body.clone())?;
    input.validate(&body, now)
}

/// Records a validated event (see `record`). `member_id`: the user's id when the caller has just
/// seen it (a batch's earlier event of the same user), which saves the lookup.
async fn record_valid(
    store: &Store,
    tenant: &Tenant,
    new: NewEvent,
    member_id: Option<String>,
    now: Timestamp,
) -> Result<Recorded, ApiError> {
    let id = new.event_id.clone().unwrap_or_else(domain::ids::new_id);
    let mut known = member_id;
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        let found = match known.take() {
            Some(id) => Some(id),
            None => store
                .member_by_external_id(tenant, &new.external_id)
                .await?
                .map(|m| m.id),
        };
        let (member_id, create) = match found {
            Some(member_id) => (member_id, None),
            None => {
                let input = MemberInput {
                    external_id: Patch::Value(new.external_id.clone()),
                    ..Default::default()
                };
                let member = input.into_new_member(domain::ids::new_id(), now, true);
                (
                    member.id.clone(),
                    Some(MemberWrite::Create(Box::new(member))),
                )
            }
        };
        let event = new.clone().into_event(id.clone(), member_id, now);
        match store
            .insert_journey_event(tenant, &event, create.as_ref())
            .await
        {
            Ok(EventWrite::Created) => {
                return Ok(Recorded {
                    event,
                    replayed: false,
                })
            }
            Ok(EventWrite::Exists(original)) if original.request_hash == event.request_hash => {
                return Ok(Recorded {
                    event: *original,
                    replayed: true,
                })
            }
            Ok(EventWrite::Exists(_)) => {
                return Err(ApiError::Conflict(
                    "This eventId was already used with a different body.".into(),
                ))
            }
            // The user appeared meanwhile (another event created it): read it again.
            Err(StoreError::Contended) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Contended.into())
}

/// Events of one batch recorded at the same time (each is one or two round trips).
const EVENTS_AT_ONCE: usize = 10;

/// `POST /v1/user-journeys/track`: up to 100 events, each recorded (or refused) on its own, in
/// the order sent. 200 with one result per event: `created`, `duplicate` (a replay of a recorded
/// event), `rejected` (4xx: fix it before sending again) or `failed` (5xx or throttled: send it
/// again). Events of one user run one after another, so the user is created once.
pub async fn track(
    store: &Store,
    tenant: &Tenant,
    body: Value,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let items = journey::batch_items(body)?;
    // Validate first (no I/O), then group by user: a user's events run in order.
    let mut results: Vec<Value> = vec![Value::Null; items.len()];
    let mut by_user: BTreeMap<String, Vec<(usize, NewEvent)>> = BTreeMap::new();
    for (index, item) in items.into_iter().enumerate() {
        match validate(item, now) {
            Ok(new) => by_user
                .entry(new.external_id.clone())
                .or_default()
                .push((index, new)),
            Err(e) => results[index] = item_result(index, Err(e)),
        }
    }
    let mut work = futures_util::stream::iter(by_user.into_values())
        .map(|events| async move {
            let mut done = Vec::new();
            let mut member_id = None;
            for (index, new) in events {
                let outcome = record_valid(store, tenant, new, member_id.clone(), now).await;
                // A replay names the user the event was first recorded for, maybe long ago.
                if let Some(recorded) = outcome.as_ref().ok().filter(|r| !r.replayed) {
                    member_id = Some(recorded.event.member_id.clone());
                }
                done.push((index, outcome));
            }
            done
        })
        .buffer_unordered(EVENTS_AT_ONCE);
    while let Some(done) = work.next().await {
        for (index, outcome) in done {
            results[index] = item_result(index, outcome);
        }
    }
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    Ok(json!({
        "accepted": count("created"),
        "duplicates": count("duplicate"),
        "rejected": count("rejected"),
        "failed": count("failed"),
        "results": results,
    }))
}

fn item_result(index: usize, outcome: Result<Recorded, ApiError>) -> Value {
    match outcome {
        Ok(recorded) => json!({
            "index": index,
            "status": if recorded.replayed { "duplicate" } else { "created" },
            "eventId": recorded.event.id,
        }),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(error = %e, index, "user-journey event failed");
            }
            let status = if e.status() >= 500 || e.status() == 429 {
                "failed"
            } else {
                "rejected"
            };
            json!({"index": index, "status": status, "error": e.to_json()})
        }
    }
}

/// `GET /v1/user-journeys/users/{externalId}/timeline`: the user's events, newest `occurredAt`
/// first, one page.
pub async fn timeline(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    external_id: &str,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let member = user(store, tenant, external_id).await?;
    let (events, next) = lists::page::<JourneyEvent>(
        store,
        codec,
        tenant,
        EVENT_SLUG,
        params,
        Scope::Member(&member.id),
        &[],
        limit,
    )
    .await?;
    Ok((events.iter().map(JourneyEvent::to_json).collect(), next))
}

/// The user of a User Journeys route, by `externalId`.
pub async fn user(store: &Store, tenant: &Tenant, external_id: &str) -> Result<Member, ApiError> {
    store
        .member_by_external_id(tenant, external_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No user with this externalId.".into()))
}

/// The track-user profile (seed 001) with `recommendations` (what `GET` answers; the `POST`
/// answer stays one write and carries none).
pub async fn profile(
    store: &Store,
    programs: &LivePrograms,
    tenant: &Tenant,
    member: &Member,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let mut profile = member.to_profile(tenant, now);
    profile["pointsBalance"] =
        serde_json::json!(crate::points::balance(store, tenant, &member.id).await?);
    let picks = recommendations(store, programs, tenant, member, now).await?;
    profile["recommendations"] = Value::Array(picks);
    Ok(profile)
}

/// Live programs a recommendation may name, per kind; more are not read (a profile stays cheap).
const PROGRAMS_READ: usize = 100;

/// How long an instance reuses a tenant's live programs: programs change rarely, profiles are read
/// often, and a recommendation a minute late is harmless.
const PROGRAMS_FRESH_FOR: Duration = Duration::from_secs(60);

/// Tenants whose programs an instance keeps (bounded memory).
const PROGRAMS_TENANTS: usize = 10_000;

type LiveList = Arc<Vec<(ProgramKind, Program)>>;

/// The live streaks and challenges of each tenant, as this instance last read them.
pub struct LivePrograms(Recent<LiveList>);

impl Default for LivePrograms {
    fn default() -> Self {
        LivePrograms(Recent::new(PROGRAMS_FRESH_FOR, PROGRAMS_TENANTS))
    }
}

impl LivePrograms {
    async fn get(&self, store: &Store, tenant: &Tenant) -> Result<LiveList, ApiError> {
        let key = tenant.key_prefix();
        if let Some(list) = self.0.get(&key) {
            return Ok(list);
        }
        let live = [Condition::equals("status", ProgramStatus::Live.as_str())];
        let read = |kind| store.list_programs(tenant, kind, &live, PROGRAMS_READ, None);
        let (streaks, challenges) =
            futures_util::try_join!(read(ProgramKind::Streak), read(ProgramKind::Challenge))?;
        let tag =
            |kind, (programs, _): (Vec<Program>, _)| programs.into_iter().map(move |p| (kind, p));
        let list: LiveList = Arc::new(
            tag(ProgramKind::Streak, streaks)
                .chain(tag(ProgramKind::Challenge, challenges))
                .collect(),
        );
        self.0.put(key, list.clone());
        Ok(list)
    }
}

/// The live streaks and challenges, each with the member's standing in it (its current run or
/// window as read now), ranked by `journey::recommend`.
async fn recommendations(
    store: &Store,
    programs: &LivePrograms,
    tenant: &Tenant,
    member: &Member,
    now: Timestamp,
) -> Result<Vec<Value>, ApiError> {
    let empty = Default::default();
    let joined = member.activity.as_ref().map_or(&empty, |a| &a.campaigns);
    // A program that has ended takes no more logs: nothing to recommend.
    let open = programs.get(store, tenant).await?;
    let open: Vec<&(ProgramKind, Program)> = open
        .iter()
        .filter(|(_, p)| p.end_at.is_none_or(|e| e > now))
        .collect();
    // The member's standing in each program it joined, read at once (one query each).
    let standings = open.iter().map(|(kind, program)| async move {
        match program.completion_target_value {
            Some(target) if joined.contains_key(&program.id) => {
                let value = current(store, tenant, member, &program.id, *kind, now).await?;
                Ok::<_, ApiError>(value.map(|v| (v, target.decimal())))
            }
            _ => Ok(None),
        }
    });
    let standings = futures_util::future::try_join_all(standings).await?;
    let candidates: Vec<Candidate> = open
        .iter()
        .zip(standings)
        .map(|((kind, program), in_progress)| Candidate {
            joined: joined.contains_key(&program.id),
            program_id: program.id.clone(),
            program_type: kind.slug(),
            name: program.name.clone(),
            created_at: program.created_at,
            in_progress,
        })
        .collect();
    Ok(journey::recommend(&candidates))
}

/// The value of the member's current run or window in a program, if it is in progress as read
/// now.
async fn current(
    store: &Store,
    tenant: &Tenant,
    member: &Member,
    program_id: &str,
    kind: ProgramKind,
    now: Timestamp,
) -> Result<Option<Decimal>, ApiError> {
    let head = store
        .progress_tail(tenant, &member.id, program_id, "~")
        .await?
        .pop();
    let Some(head) = head.map(|h| crate::records::as_read(h, now)) else {
        return Ok(None);
    };
    let status_field = RecordKind::progress_of(kind).and_then(RecordKind::status_field);
    if status_field.is_none_or(|field| head[field] != "in_progress") {
        return Ok(None);
    }
    Ok(head["currentProgressValue"].to_string().parse().ok())
}
