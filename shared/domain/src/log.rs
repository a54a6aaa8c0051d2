//! Activity logs (SPEC §5): `streak_log` and `challenge_log` records, the create body and its rules.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::amount::Amount;
use crate::error::{ApiError, FieldError};
use crate::member::{MemberInput, WriteMode};
use crate::program::ProgramKind;
use crate::time::{self, Timestamp};
use crate::validate;

/// How far ahead of the server clock `activityAt` may be (clock skew of the caller).
pub const MAX_FUTURE: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogKind {
    #[serde(rename = "streak_log")]
    Streak,
    #[serde(rename = "challenge_log")]
    Challenge,
    /// `streak_freeze`: an admin's grant of streak freezes (SPEC §10). Stored and served like a
    /// log — immutable, idempotent, listed per member — with `grantedAt` and `count` in place of
    /// `activityAt` and `activityValue`.
    #[serde(rename = "streak_freeze")]
    Freeze,
}

impl LogKind {
    pub fn from_slug(slug: &str) -> Option<Self> {
        match slug {
            "streak_log" => Some(LogKind::Streak),
            "challenge_log" => Some(LogKind::Challenge),
            "streak_freeze" => Some(LogKind::Freeze),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            LogKind::Streak => "streak_log",
            LogKind::Challenge => "challenge_log",
            LogKind::Freeze => "streak_freeze",
        }
    }

    pub fn program_kind(self) -> ProgramKind {
        match self {
            LogKind::Streak => ProgramKind::Streak,
            LogKind::Challenge => ProgramKind::Challenge,
            LogKind::Freeze => ProgramKind::Streak,
        }
    }

    /// `streakId` or `challengeId`.
    pub fn program_field(self) -> &'static str {
        match self {
            LogKind::Streak | LogKind::Freeze => "streakId",
            LogKind::Challenge => "challengeId",
        }
    }
}

/// A stored log. Immutable once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityLog {
    pub id: String,
    pub kind: LogKind,
    pub program_id: String,
    /// The member's id (never the externalId, which can change).
    pub owned_by_id: String,
    #[serde(with = "time::rfc3339_ms")]
    pub activity_at: Timestamp,
    pub activity_id: Option<String>,
    pub unique_identifier: String,
    pub activity_value: Option<Amount>,
    pub counts_toward_progress: bool,
    /// SHA-256 of the canonical request body: a replay with another body is a conflict.
    pub request_hash: String,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339_ms")]
    pub updated_at: Timestamp,
    /// The program's `version` when the log was accepted (absent on logs stored before it).
    /// Not in any answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_version: Option<String>,
}

impl ActivityLog {
    pub fn to_record(&self) -> Value {
        if self.kind == LogKind::Freeze {
            return serde_json::json!({
                "id": self.id,
                "streakId": self.program_id,
                "ownedById": self.owned_by_id,
                "grantedAt": time::format(&self.activity_at),
                "count": self.activity_value,
                "uniqueIdentifier": self.unique_identifier,
                "countsTowardProgress": self.counts_toward_progress,
                "createdAt": time::format(&self.created_at),
                "updatedAt": time::format(&self.updated_at),
            });
        }
        serde_json::json!({
            "id": self.id,
            self.kind.program_field(): self.program_id,
            "ownedById": self.owned_by_id,
            "activityAt": time::format(&self.activity_at),
            "activityId": self.activity_id,
            "uniqueIdentifier": self.unique_identifier,
            "activityValue": self.activity_value,
            "countsTowardProgress": self.counts_toward_progress,
            "createdAt": time::format(&self.created_at),
            "updatedAt": time::format(&self.updated_at),
        })
    }
}

/// The create body of either log kind; `streakId` / `challengeId` is checked against the route.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogInput {
    pub streak_id: Option<String>,
    pub challenge_id: Option<String>,
    pub owned_by_id: Option<String>,
    pub owned_by: Option<MemberInput>,
    pub activity_at: Option<String>,
    pub activity_id: Option<String>,
    pub unique_identifier: Option<String>,
    pub activity_value: Option<Amount>,
    /// A freeze grant's moment and number of freezes (`streak_freeze` only).
    pub granted_at: Option<String>,
    pub count: Option<Amount>,
}

/// Freezes one grant may give (SPEC §10).
pub const MAX_FREEZES_PER_GRANT: u32 = 10;

/// Who the log belongs to.
#[derive(Debug, Clone)]
pub enum Owner {
    /// A member id or externalId that must exist.
    Existing(String),
    /// A member created or updated in the same transaction as the log.
    Upsert(Box<MemberInput>),
}

impl Owner {
    /// The owner a body names by `ownedById` or `ownedBy` (logs, grants, points entries); `None`
    /// with the field's problem added to `errors`.
    pub fn from_fields(
        owned_by_id: Option<String>,
        owned_by: Option<MemberInput>,
        errors: &mut Vec<FieldError>,
    ) -> Option<Owner> {
        match (owned_by_id, owned_by) {
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "ownedBy",
                    "send ownedById or ownedBy, not both",
                ));
                None
            }
            (Some(id), None) if !id.is_empty() => Some(Owner::Existing(id)),
            (None, Some(member)) => match member.validate(WriteMode::Upsert) {
                Ok(()) => Some(Owner::Upsert(Box::new(member))),
                Err(e) => {
                    for d in e.details() {
                        errors.push(FieldError::new(
                            format!("ownedBy.{}", d.field),
                            d.message.clone(),
                        ));
                    }
                    None
                }
            },
            _ => {
                errors.push(FieldError::new(
                    "ownedById",
                    "is required (or ownedBy with a member)",
                ));
                None
            }
        }
    }
}

/// A validated log request, before the program and member are looked up.
#[derive(Debug, Clone)]
pub struct NewLog {
    pub program_id: String,
    pub owner: Owner,
    pub activity_at: Timestamp,
    pub activity_id: Option<String>,
    /// The caller's idempotency key; when absent the log's own id is used and no dedup happens.
    pub unique_identifier: Option<String>,
    pub activity_value: Option<Amount>,
    pub request_hash: String,
}

/// SHA-256 of the body in canonical form, so that two copies of one request do not differ by
/// key order, whitespace (serde_json's maps are ordered), the spelling of a number (`10`,
/// `10.0`, `1e1`) or of an instant (`…00Z`, `…00.000Z`, `…01:00+01:00`).
pub fn request_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(canonical(body).to_string().as_bytes()))
}

/// The hash logs stored before bodies were made canonical carry: a replay of one still replays
/// (computed only when a log with the same key exists).
pub fn legacy_request_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// `body` with every number and RFC 3339 instant in one spelling.
fn canonical(body: &Value) -> Value {
    match body {
        Value::Number(n) => {
            let text = n.to_string();
            let decimal = rust_decimal::Decimal::from_str_exact(&text)
                .or_else(|_| rust_decimal::Decimal::from_scientific(&text));
            match decimal {
                Ok(d) => Value::String(format!("#{}", d.normalize())),
                Err(_) => Value::String(format!("#{:e}", n.as_f64().unwrap_or(f64::NAN))),
            }
        }
        Value::String(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(t) => Value::String(crate::time::format(&t.with_timezone(&chrono::Utc))),
            Err(_) => body.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        _ => body.clone(),
    }
}

impl LogInput {
    /// Checks the rules that need no lookup (SPEC §5).
    pub fn validate(self, kind: LogKind, body: &Value, now: Timestamp) -> Result<NewLog, ApiError> {
        let mut errors = Vec::new();
        let (program_id, wrong) = match kind {
            LogKind::Streak | LogKind::Freeze => {
                (self.streak_id, self.challenge_id.map(|_| "challengeId"))
            }
            LogKind::Challenge => (self.challenge_id, self.streak_id.map(|_| "streakId")),
        };
        let freeze = kind == LogKind::Freeze;
        let foreign = [
            wrong,
            (freeze && self.activity_at.is_some()).then_some("activityAt"),
            (freeze && self.activity_id.is_some()).then_some("activityId"),
            (freeze && self.activity_value.is_some()).then_some("activityValue"),
            (!freeze && self.granted_at.is_some()).then_some("grantedAt"),
            (!freeze && self.count.is_some()).then_some("count"),
        ];
        for field in foreign.into_iter().flatten() {
            errors.push(FieldError::new(
                field,
                format!("is not a field of a {}", kind.slug()),
            ));
        }
        let program_id = program_id.filter(|p| !p.is_empty());
        if program_id.is_none() {
            errors.push(FieldError::new(kind.program_field(), "is required"));
        }
        let owner = Owner::from_fields(self.owned_by_id, self.owned_by, &mut errors);
        // A grant's moment and count stand in a log's `activityAt` and `activityValue`.
        let (at_field, at_text) = match kind {
            LogKind::Freeze => ("grantedAt", self.granted_at.as_deref()),
            _ => ("activityAt", self.activity_at.as_deref()),
        };
        let activity_at = match at_text {
            None => Some(now),
            Some(text) => match validate::instant_not_future(text, now) {
                Ok(t) => Some(t),
                Err(m) => {
                    errors.push(FieldError::new(at_field, m));
                    None
                }
            },
        };
        let activity_value = match kind {
            LogKind::Freeze => match self.count {
                None => {
                    errors.push(FieldError::new("count", "is required"));
                    None
                }
                Some(c)
                    if c.is_integer()
                        && c.decimal() >= rust_decimal::Decimal::ONE
                        && c.decimal() <= rust_decimal::Decimal::from(MAX_FREEZES_PER_GRANT) =>
                {
                    Some(c)
                }
                Some(_) => {
                    errors.push(FieldError::new(
                        "count",
                        format!("must be a whole number from 1 to {MAX_FREEZES_PER_GRANT}"),
                    ));
                    None
                }
            },
            _ => self.activity_value,
        };
        for (field, value) in [
            ("activityId", &self.activity_id),
            ("uniqueIdentifier", &self.unique_identifier),
        ] {
            if let Some(v) = value {
                if let Err(m) = validate::required_chars(v, 256) {
                    errors.push(FieldError::new(field, m));
                }
            }
        }
        if let Some(v) = self.activity_value {
            if v.decimal().is_sign_negative() {
                errors.push(FieldError::new("activityValue", "must be 0 or more"));
            }
        }
        match (program_id, owner, activity_at) {
            (Some(program_id), Some(owner), Some(activity_at)) if errors.is_empty() => Ok(NewLog {
                program_id,
                owner,
                activity_at,
                activity_id: self.activity_id,
                unique_identifier: self.unique_identifier,
                activity_value,
                request_hash: request_hash(body),
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: LogKind, body: Value) -> Result<NewLog, ApiError> {
        let input: LogInput = serde_json::from_value(body.clone())
            .map_err(|e| ApiError::field("body", e.to_string()))?;
        input.validate(kind, &body, "2026-11-24T12:00:00Z".parse().unwrap())
    }

    fn fields(err: ApiError) -> Vec<String> {
        err.details().iter().map(|d| d.field.clone()).collect()
    }

    #[test]
    fn a_valid_log_and_its_defaults() {
        let log = check(LogKind::Streak, serde_json::json!({"streakId": "s", "ownedById": "u1", "uniqueIdentifier": "o-1", "activityValue": 0.1})).unwrap();
        assert_eq!(
            log.activity_at,
            "2026-11-24T12:00:00Z".parse::<Timestamp>().unwrap(),
            "activityAt defaults to now"
        );
        assert!(matches!(log.owner, Owner::Existing(ref id) if id == "u1"));
    }

    #[test]
    fn rules_without_lookups() {
        let err = check(LogKind::Streak, serde_json::json!({})).unwrap_err();
        assert_eq!(fields(err), ["streakId", "ownedById"]);
        let err = check(
            LogKind::Challenge,
            serde_json::json!({"streakId": "s", "challengeId": "c", "ownedById": "u"}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["streakId"]);
        let err = check(
            LogKind::Streak,
            serde_json::json!({"streakId": "s", "ownedById": "u", "ownedBy": {"externalId": "u"}}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["ownedBy"]);
        let err = check(
            LogKind::Streak,
            serde_json::json!({"streakId": "s", "ownedBy": {"email": "x"}}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["ownedBy.externalId", "ownedBy.email"]);
        let err = check(LogKind::Streak, serde_json::json!({"streakId": "s", "ownedById": "u", "activityAt": "2026-11-24T12:05:01Z"})).unwrap_err();
        assert_eq!(fields(err), ["activityAt"]);
        assert!(check(LogKind::Streak, serde_json::json!({"streakId": "s", "ownedById": "u", "activityAt": "2026-11-24T12:05:00Z"})).is_ok());
        assert!(check(LogKind::Streak, serde_json::json!({"streakId": "s", "ownedById": "u", "activityAt": "2020-01-01T00:00:00Z"})).is_ok(), "backfill");
        let long = "x".repeat(257);
        let err = check(LogKind::Streak, serde_json::json!({"streakId": "s", "ownedById": "u", "activityId": long, "uniqueIdentifier": "", "activityValue": -1})).unwrap_err();
        assert_eq!(
            fields(err),
            ["activityId", "uniqueIdentifier", "activityValue"]
        );
        assert!(serde_json::from_value::<LogInput>(serde_json::json!({"streakID": "s"})).is_err());
    }

    #[test]
    fn a_freeze_grant_has_a_count_and_a_grant_time_not_an_activity() {
        let grant = check(
            LogKind::Freeze,
            serde_json::json!({"streakId": "s", "ownedById": "u", "count": 2, "uniqueIdentifier": "g"}),
        )
        .unwrap();
        assert_eq!(
            grant.activity_value.map(|c| c.decimal().to_string()),
            Some("2".into())
        );
        assert_eq!(
            grant.activity_at,
            "2026-11-24T12:00:00Z".parse::<Timestamp>().unwrap(),
            "grantedAt defaults to now"
        );
        for (body, field) in [
            (
                serde_json::json!({"streakId": "s", "ownedById": "u"}),
                "count",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 0}),
                "count",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 11}),
                "count",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1.5}),
                "count",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1, "grantedAt": "2026-11-24T12:05:01Z"}),
                "grantedAt",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1, "grantedAt": "yesterday"}),
                "grantedAt",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1, "activityValue": 1}),
                "activityValue",
            ),
            (
                serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1, "activityAt": "2026-11-24T12:00:00Z"}),
                "activityAt",
            ),
            (
                serde_json::json!({"challengeId": "c", "ownedById": "u", "count": 1}),
                "challengeId",
            ),
            (
                serde_json::json!({"ownedById": "u", "count": 1}),
                "streakId",
            ),
        ] {
            let err = check(LogKind::Freeze, body.clone()).unwrap_err();
            assert!(fields(err).contains(&field.to_string()), "{body}");
        }
        // A log has no count.
        let err = check(
            LogKind::Streak,
            serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["count"]);
        // Backdated grants are fine, like backfilled logs.
        assert!(check(LogKind::Freeze, serde_json::json!({"streakId": "s", "ownedById": "u", "count": 1, "grantedAt": "2026-11-01T00:00:00Z"})).is_ok());
    }

    #[test]
    fn the_request_hash_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":2,"d":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"d":3,"c":2},  "a":1}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        let c: Value = serde_json::from_str(r#"{"a":2,"b":{"c":2,"d":3}}"#).unwrap();
        assert_ne!(request_hash(&a), request_hash(&c));
    }

    #[test]
    fn the_request_hash_ignores_how_numbers_and_instants_are_spelled() {
        let hash = |text: &str| request_hash(&serde_json::from_str(text).unwrap());
        let base = hash(r#"{"v":10,"at":"2026-11-24T09:15:00Z","m":{"x":[1.5]}}"#);
        for same in [
            r#"{"v":10.0,"at":"2026-11-24T09:15:00.000Z","m":{"x":[1.50]}}"#,
            r#"{"v":1e1,"at":"2026-11-24T10:15:00+01:00","m":{"x":[15e-1]}}"#,
        ] {
            assert_eq!(hash(same), base, "{same}");
        }
        for different in [
            r#"{"v":10.5,"at":"2026-11-24T09:15:00Z","m":{"x":[1.5]}}"#,
            r#"{"v":10,"at":"2026-11-24T09:15:01Z","m":{"x":[1.5]}}"#,
            r#"{"v":"10","at":"2026-11-24T09:15:00Z","m":{"x":[1.5]}}"#,
        ] {
            assert_ne!(hash(different), base, "{different}");
        }
    }
}
