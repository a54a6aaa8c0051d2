//! GamifyHost's User Journeys beside track-user (SPEC §7): events a client sends about a user
//! (`POST /v1/user-journeys/events`, or up to 100 at once with `/track`), the user's timeline, and
//! the recommendations on the profile. Events count toward `totalEvents` and move `lastSeenAt`;
//! they never count toward progress (only logs do).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{ApiError, FieldError};
use crate::member::EXTERNAL_ID_MAX;
use crate::time::{self, Timestamp};
use crate::validate;

/// The slug of a member's events on GSI2 (its timeline).
pub const EVENT_SLUG: &str = "journey_event";
/// Events in one `POST /v1/user-journeys/track`.
pub const MAX_BATCH: usize = 100;
const EVENT_TYPE_MAX: usize = 100;
const EVENT_ID_MAX: usize = 256;

/// One event as a client sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventInput {
    /// The client's id of the event: a second event with it is the same event.
    pub event_id: Option<String>,
    pub external_id: Option<String>,
    pub event_type: Option<String>,
    pub category: Option<String>,
    pub properties: Option<Map<String, Value>>,
    pub occurred_at: Option<String>,
}

/// A validated event, before its user is looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Option<String>,
    pub external_id: String,
    pub event_type: String,
    pub category: Option<String>,
    pub properties: Option<Map<String, Value>>,
    pub occurred_at: Timestamp,
    pub request_hash: String,
}

impl EventInput {
    /// Every rule that needs no lookup, all broken ones reported at once.
    pub fn validate(self, body: &Value, now: Timestamp) -> Result<NewEvent, ApiError> {
        let mut errors = Vec::new();
        let mut text = |field: &str, value: &Option<String>, max: usize, required: bool| match value
        {
            None if required => errors.push(FieldError::new(field, "is required")),
            None => {}
            Some(v) => {
                if let Err(m) = validate::required_chars(v, max) {
                    errors.push(FieldError::new(field, m));
                }
            }
        };
        text("eventId", &self.event_id, EVENT_ID_MAX, false);
        text("externalId", &self.external_id, EXTERNAL_ID_MAX, true);
        text("eventType", &self.event_type, EVENT_TYPE_MAX, true);
        text("category", &self.category, EVENT_TYPE_MAX, false);
        if let Some(Err(m)) = self.properties.as_ref().map(validate::metadata) {
            errors.push(FieldError::new("properties", m));
        }
        let occurred_at = match self.occurred_at.as_deref() {
            None => Some(now),
            Some(text) => match validate::instant_not_future(text, now) {
                Ok(t) => Some(t),
                Err(m) => {
                    errors.push(FieldError::new("occurredAt", m));
                    None
                }
            },
        };
        match (self.external_id, self.event_type, occurred_at) {
            (Some(external_id), Some(event_type), Some(occurred_at)) if errors.is_empty() => {
                Ok(NewEvent {
                    event_id: self.event_id,
                    external_id,
                    event_type,
                    category: self.category,
                    properties: self.properties,
                    occurred_at,
                    request_hash: crate::log::request_hash(body),
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JourneyEvent {
    pub id: String,
    pub member_id: String,
    pub external_id: String,
    pub event_type: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub properties: Option<Map<String, Value>>,
    #[serde(with = "time::rfc3339_ms")]
    pub occurred_at: Timestamp,
    #[serde(with = "time::rfc3339_ms")]
    pub received_at: Timestamp,
    pub request_hash: String,
}

impl NewEvent {
    /// The event as stored for `member_id`; `id` is the client's `eventId` or a new one.
    pub fn into_event(self, id: String, member_id: String, now: Timestamp) -> JourneyEvent {
        JourneyEvent {
            id,
            member_id,
            external_id: self.external_id,
            event_type: self.event_type,
            category: self.category,
            properties: self.properties,
            occurred_at: self.occurred_at,
            received_at: now,
            request_hash: self.request_hash,
        }
    }
}

impl JourneyEvent {
    /// The event as the API answers it (`eventId` is the client's id, or ours when none).
    pub fn to_json(&self) -> Value {
        json!({
            "eventId": self.id,
            "userId": self.member_id,
            "externalId": self.external_id,
            "eventType": self.event_type,
            "category": self.category,
            "properties": self.properties.clone().unwrap_or_default(),
            "occurredAt": time::format(&self.occurred_at),
            "receivedAt": time::format(&self.received_at),
        })
    }

    /// The timeline's sort key: newest `occurredAt` first, ties by id.
    pub fn timeline_key(&self) -> String {
        format!("{}#{}", time::format(&self.occurred_at), self.id)
    }
}

/// The body of `POST /v1/user-journeys/track`: `{"events": [...]}`, 1–100 events. Each event is
/// checked on its own (per-item results); only the envelope can fail the whole request.
pub fn batch_items(body: Value) -> Result<Vec<Value>, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::field("body", "must be an object with events"));
    };
    if let Some(unknown) = body.keys().find(|k| k.as_str() != "events") {
        return Err(ApiError::field(unknown.clone(), "is not a known field"));
    }
    match body.remove("events") {
        Some(Value::Array(events)) if events.is_empty() => {
            Err(ApiError::field("events", "must hold at least one event"))
        }
        Some(Value::Array(events)) if events.len() > MAX_BATCH => Err(ApiError::field(
            "events",
            format!(
                "must hold at most {MAX_BATCH} events (got {})",
                events.len()
            ),
        )),
        Some(Value::Array(events)) => Ok(events),
        Some(_) => Err(ApiError::field("events", "must be an array of events")),
        None => Err(ApiError::field("events", "is required")),
    }
}

/// What one program looks like to the recommendations.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub program_id: String,
    /// `streak` or `challenge`.
    pub program_type: &'static str,
    pub name: String,
    pub created_at: Timestamp,
    /// The member's current run or window, when one is in progress: (value, target).
    pub in_progress: Option<(rust_decimal::Decimal, rust_decimal::Decimal)>,
    /// Whether the member has any progress record in it (in progress, completed, broken, failed).
    pub joined: bool,
}

/// At most this many recommendations on a profile.
pub const MAX_RECOMMENDATIONS: usize = 5;

/// The profile's `recommendations`: first the programs in progress, closest to completing first
/// (largest share of the target done, then fewest left), then the live programs the member has not
/// joined, newest first; `priority` 1 is the first. Programs joined and not in progress (a finished
/// or broken run) are left out.
pub fn recommend(candidates: &[Candidate]) -> Vec<Value> {
    use rust_decimal::Decimal;
    let mut close: Vec<(&Candidate, Decimal, Decimal)> = candidates
        .iter()
        .filter_map(|c| {
            let (value, target) = c.in_progress?;
            let share = if target > Decimal::ZERO {
                (value / target).min(Decimal::ONE)
            } else {
                Decimal::ONE
            };
            Some((c, share, (target - value).max(Decimal::ZERO)))
        })
        .collect();
    close.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(a.2.cmp(&b.2))
            .then(a.0.program_id.cmp(&b.0.program_id))
    });
    let mut fresh: Vec<&Candidate> = candidates.iter().filter(|c| !c.joined).collect();
    fresh.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(a.program_id.cmp(&b.program_id))
    });
    let close = close.into_iter().map(|(c, _, left)| {
        let (value, target) = c.in_progress.unwrap_or_default();
        (
            c,
            "close_to_completion",
            json!({"current": crate::amount::Amount::from(value), "target": crate::amount::Amount::from(target), "remaining": crate::amount::Amount::from(left)}),
        )
    });
    let fresh = fresh.into_iter().map(|c| (c, "not_joined", Value::Null));
    close
        .chain(fresh)
        .take(MAX_RECOMMENDATIONS)
        .enumerate()
        .map(|(i, (c, reason, progress))| {
            json!({
                "priority": i + 1,
                "programId": c.program_id,
                "programType": c.program_type,
                "name": c.name,
                "reason": reason,
                "progress": progress,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
