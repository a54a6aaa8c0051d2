//! Members (`account_user`, SPEC §3): the record, the inputs of every route that writes one, and their rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::analytics::{ActivityStats, Analytics};
use crate::error::{ApiError, FieldError};
use crate::patch::Patch;
use crate::tenant::Tenant;
use crate::time::{self, Timestamp};
use crate::validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Draft,
    Live,
    Paused,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Draft => "draft",
            MemberStatus::Live => "live",
            MemberStatus::Paused => "paused",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Mobile,
    Desktop,
    Tablet,
}

pub const EXTERNAL_ID_MAX: usize = 256;
pub const NAME_MAX: usize = 256;
pub const SOURCE_MAX: usize = 256;
pub const TRACK_PHONE_MAX: usize = 20;

/// A member as stored and as returned (with `analytics` added on the way out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    pub external_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub status: MemberStatus,
    pub timezone: Option<String>,
    pub country: Option<String>,
    pub device: Option<Device>,
    pub source: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::rfc3339_ms")]
    pub first_seen_at: Timestamp,
    #[serde(with = "time::rfc3339_ms::option", default)]
    pub last_seen_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339_ms")]
    pub updated_at: Timestamp,
    /// Activity counters maintained by the stream processor; absent until the first log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivityStats>,
    /// Revision of the stored item, raised by every write: the processor's read-modify-write of
    /// `activity` is conditional on it. Not part of any answer.
    #[serde(default)]
    pub rev: u64,
}

/// The writable fields of a member, each absent, null or set. One type serves create, upsert and PATCH.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberInput {
    #[serde(default)]
    pub external_id: Patch<String>,
    #[serde(default)]
    pub first_name: Patch<String>,
    #[serde(default)]
    pub last_name: Patch<String>,
    #[serde(default)]
    pub display_name: Patch<String>,
    #[serde(default)]
    pub email: Patch<String>,
    #[serde(default)]
    pub phone_number: Patch<String>,
    #[serde(default)]
    pub status: Patch<MemberStatus>,
    #[serde(default)]
    pub timezone: Patch<String>,
    #[serde(default)]
    pub country: Patch<String>,
    #[serde(default)]
    pub device: Patch<Device>,
    #[serde(default)]
    pub source: Patch<String>,
    #[serde(default)]
    pub tags: Patch<BTreeMap<String, String>>,
    #[serde(default)]
    pub metadata: Patch<Map<String, Value>>,
}

/// GamifyHost's track-user body (seed 001): `phone` instead of `phoneNumber`, no names or status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackUserInput {
    #[serde(default)]
    pub external_id: Patch<String>,
    #[serde(default)]
    pub display_name: Patch<String>,
    #[serde(default)]
    pub email: Patch<String>,
    #[serde(default)]
    pub phone: Patch<String>,
    #[serde(default)]
    pub country: Patch<String>,
    #[serde(default)]
    pub device: Patch<Device>,
    #[serde(default)]
    pub source: Patch<String>,
    #[serde(default)]
    pub tags: Patch<BTreeMap<String, String>>,
    #[serde(default)]
    pub metadata: Patch<Map<String, Value>>,
}

/// How a write will use the input, which decides what is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `POST /schema/account_user/record`: `externalId` and `status` required.
    Create,
    /// `PATCH …/{id}`: nothing required; `externalId` and `status` cannot be cleared.
    Patch,
    /// Track-user and inline upserts: `externalId` required, `status` defaults to `live`.
    Upsert,
}

fn check<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    patch: &Patch<T>,
    rule: impl Fn(&T) -> Result<(), String>,
) {
    if let Patch::Value(v) = patch {
        if let Err(message) = rule(v) {
            errors.push(FieldError::new(field, message));
        }
    }
}

impl MemberInput {
    /// Checks every rule of SPEC §3 and reports all broken ones at once.
    pub fn validate(&self, mode: WriteMode) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        match (&self.external_id, mode) {
            (Patch::Absent, WriteMode::Create | WriteMode::Upsert) => {
                errors.push(FieldError::new("externalId", "is required"))
            }
            (Patch::Null, _) => errors.push(FieldError::new(
                "externalId",
                "is required and cannot be null",
            )),
            _ => {}
        }
        check(&mut errors, "externalId", &self.external_id, |v| {
            validate::required_chars(v, EXTERNAL_ID_MAX)
        });
        match (&self.status, mode) {
            (Patch::Absent, WriteMode::Create) => errors.push(FieldError::new(
                "status",
                "is required: draft, live or paused",
            )),
            (Patch::Null, _) => errors.push(FieldError::new(
                "status",
                "cannot be null: draft, live or paused",
            )),
            _ => {}
        }
        for (field, patch) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
            ("displayName", &self.display_name),
            ("source", &self.source),
        ] {
            check(&mut errors, field, patch, |v| {
                validate::max_chars(v, NAME_MAX)
            });
        }
        check(&mut errors, "email", &self.email, |v| validate::email(v));
        check(&mut errors, "phoneNumber", &self.phone_number, |v| {
            validate::e164(v)
        });
        check(&mut errors, "timezone", &self.timezone, |v| {
            validate::timezone(v).map(|_| ())
        });
        check(&mut errors, "country", &self.country, |v| {
            validate::country(v)
        });
        check(&mut errors, "tags", &self.tags, validate::tags);
        check(&mut errors, "metadata", &self.metadata, validate::metadata);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// The `externalId` sent, if any.
    pub fn external_id(&self) -> Option<&str> {
        self.external_id.value().map(String::as_str)
    }

    /// A new member from a validated input. `status` defaults to `live` (track-user, inline upsert).
    pub fn into_new_member(self, id: String, now: Timestamp, seen: bool) -> Member {
        let mut member = Member {
            id,
            external_id: String::new(),
            first_name: None,
            last_name: None,
            display_name: None,
            email: None,
            phone_number: None,
            status: MemberStatus::Live,
            timezone: None,
            country: None,
            device: None,
            source: None,
            tags: None,
            metadata: None,
            first_seen_at: now,
            last_seen_at: seen.then_some(now),
            created_at: now,
            updated_at: now,
            activity: None,
            rev: 0,
        };
        member.apply(self, now);
        member
    }
}

impl Member {
    /// Applies a validated partial update.
    pub fn apply(&mut self, input: MemberInput, now: Timestamp) {
        if let Patch::Value(v) = input.external_id {
            self.external_id = v;
        }
        if let Patch::Value(v) = input.status {
            self.status = v;
        }
        input.first_name.apply_to(&mut self.first_name);
        input.last_name.apply_to(&mut self.last_name);
        input.display_name.apply_to(&mut self.display_name);
        input.email.apply_to(&mut self.email);
        input.phone_number.apply_to(&mut self.phone_number);
        input.timezone.apply_to(&mut self.timezone);
        input.country.apply_to(&mut self.country);
        input.device.apply_to(&mut self.device);
        input.source.apply_to(&mut self.source);
        input.tags.apply_to(&mut self.tags);
        input.metadata.apply_to(&mut self.metadata);
        self.updated_at = now;
    }

    pub fn analytics(&self, now: Timestamp) -> Analytics {
        Analytics::compute(
            self.activity.as_ref(),
            self.first_seen_at,
            self.last_seen_at,
            now,
        )
    }

    /// The `account_user` record as the `/schema` routes return it.
    pub fn to_record(&self, now: Timestamp) -> Value {
        serde_json::to_value(self.record(now)).unwrap_or(Value::Null)
    }

    /// The member as the API answers it, serialized straight to text by `http::success`.
    pub fn record(&self, now: Timestamp) -> MemberRecord<'_> {
        MemberRecord {
            id: &self.id,
            external_id: &self.external_id,
            first_name: &self.first_name,
            last_name: &self.last_name,
            display_name: &self.display_name,
            email: &self.email,
            phone_number: &self.phone_number,
            status: self.status,
            timezone: &self.timezone,
            country: &self.country,
            device: self.device,
            source: &self.source,
            tags: &self.tags,
            metadata: &self.metadata,
            first_seen_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            analytics: self.analytics(now),
        }
    }

    /// The GamifyHost profile (seed 001) as track-user returns it.
    pub fn to_profile(&self, tenant: &Tenant, now: Timestamp) -> Value {
        serde_json::to_value(self.profile(tenant, now)).unwrap_or(Value::Null)
    }

    pub fn profile<'a>(&'a self, tenant: &'a Tenant, now: Timestamp) -> Profile<'a> {
        Profile {
            partner_id: &tenant.account_id,
            environment: tenant.environment.upper(),
            phone: self.phone_number.as_deref().unwrap_or_default(),
            member: self.record(now),
        }
    }
}

/// A member as the API answers it: the stored fields but `activity` and `rev`, with its analytics.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRecord<'a> {
    id: &'a str,
    external_id: &'a str,
    first_name: &'a Option<String>,
    last_name: &'a Option<String>,
    display_name: &'a Option<String>,
    email: &'a Option<String>,
    phone_number: &'a Option<String>,
    status: MemberStatus,
    timezone: &'a Option<String>,
    country: &'a Option<String>,
    device: Option<Device>,
    source: &'a Option<String>,
    tags: &'a Option<BTreeMap<String, String>>,
    metadata: &'a Option<Map<String, Value>>,
    #[serde(with = "time::rfc3339_ms")]
    first_seen_at: Timestamp,
    #[serde(with = "time::rfc3339_ms::option")]
    last_seen_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339_ms")]
    created_at: Timestamp,
    #[serde(with = "time::rfc3339_ms")]
    updated_at: Timestamp,
    #[serde(flatten)]
    analytics: Analytics,
}

/// The GamifyHost profile (seed 001): the member's answer with track-user's three extra words.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile<'a> {
    partner_id: &'a str,
    environment: &'static str,
    phone: &'a str,
    #[serde(flatten)]
    member: MemberRecord<'a>,
}

impl TrackUserInput {
    /// Maps the GamifyHost body onto the member input; `phone` is ≤ 20 characters and E.164.
    pub fn into_member_input(self) -> Result<MemberInput, ApiError> {
        if self.external_id.is_absent() || matches!(self.external_id, Patch::Null) {
            return Err(ApiError::field(
                "externalId",
                "is required: Invalid request body (missing externalId)",
            ));
        }
        let mut errors = Vec::new();
        check(&mut errors, "phone", &self.phone, |v| {
            validate::max_chars(v, TRACK_PHONE_MAX)?;
            validate::e164(v)
        });
        let input = MemberInput {
            external_id: self.external_id,
            display_name: self.display_name,
            email: self.email,
            country: self.country,
            device: self.device,
            source: self.source,
            tags: self.tags,
            metadata: self.metadata,
            ..MemberInput::default()
        };
        if let Err(ApiError::Validation(more)) = input.validate(WriteMode::Upsert) {
            errors.extend(more);
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(MemberInput {
            phone_number: self.phone,
            ..input
        })
    }
}

impl MemberInput {
    /// The stored attributes this input changes: `Some` sets, `None` removes. `externalId` is left out:
    /// changing it moves the record (see `Store::replace_member`).
    pub fn changes(&self) -> Vec<(&'static str, Option<Value>)> {
        fn push<T: Serialize>(
            out: &mut Vec<(&'static str, Option<Value>)>,
            name: &'static str,
            p: &Patch<T>,
        ) {
            match p {
                Patch::Absent => {}
                Patch::Null => out.push((name, None)),
                Patch::Value(v) => out.push((name, serde_json::to_value(v).ok())),
            }
        }
        let mut out = Vec::new();
        push(&mut out, "firstName", &self.first_name);
        push(&mut out, "lastName", &self.last_name);
        push(&mut out, "displayName", &self.display_name);
        push(&mut out, "email", &self.email);
        push(&mut out, "phoneNumber", &self.phone_number);
        push(&mut out, "status", &self.status);
        push(&mut out, "timezone", &self.timezone);
        push(&mut out, "country", &self.country);
        push(&mut out, "device", &self.device);
        push(&mut out, "source", &self.source);
        push(&mut out, "tags", &self.tags);
        push(&mut out, "metadata", &self.metadata);
        out
    }
}

#[cfg(test)]
mod tests;
