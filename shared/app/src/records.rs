//! Reads of what the stream processor writes (SPEC §6): `streak_progress`, `challenge_progress`
//! and `reward_log` — lists, gets, the clock applied at read time, and the reward PATCH.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::lists::{self, Scope};
use domain::cursor::CursorCodec;
use domain::error::ApiError;
use domain::patch::Patch;
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};
use store::{Condition, Store};

/// The three kinds of record the processor writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    StreakProgress,
    ChallengeProgress,
    RewardLog,
}

impl RecordKind {
    pub fn from_slug(slug: &str) -> Option<Self> {
        match slug {
            "streak_progress" => Some(RecordKind::StreakProgress),
            "challenge_progress" => Some(RecordKind::ChallengeProgress),
            "reward_log" => Some(RecordKind::RewardLog),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            RecordKind::StreakProgress => "streak_progress",
            RecordKind::ChallengeProgress => "challenge_progress",
            RecordKind::RewardLog => "reward_log",
        }
    }

    /// List filters besides `limit`, `cursor` and `ownedById`.
    fn filters(self) -> &'static [&'static str] {
        match self {
            RecordKind::StreakProgress => &["streakId", "status"],
            RecordKind::ChallengeProgress => &["challengeId", "status"],
            RecordKind::RewardLog => &["milestoneId", "linkedSchemaRecordId", "linkedSchemaSlug"],
        }
    }

    /// Every query parameter a list of this kind accepts.
    pub fn list_params(self) -> Vec<&'static str> {
        let mut params = vec!["limit", "cursor", "ownedById"];
        params.extend(self.filters());
        params
    }

    /// The progress records of a program kind (a milestone has none).
    pub fn progress_of(kind: domain::program::ProgramKind) -> Option<Self> {
        match kind {
            domain::program::ProgramKind::Streak => Some(RecordKind::StreakProgress),
            domain::program::ProgramKind::Challenge => Some(RecordKind::ChallengeProgress),
            domain::program::ProgramKind::Milestone => None,
        }
    }

    /// The attribute that holds a record's status (`in_progress`, …); rewards have none.
    pub fn status_field(self) -> Option<&'static str> {
        match self {
            RecordKind::StreakProgress => Some("streakProgressStatus"),
            RecordKind::ChallengeProgress => Some("challengeProgressStatus"),
            RecordKind::RewardLog => None,
        }
    }
}

/// Internal attributes never shown.
const INTERNAL: &[&str] = &[
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "GSI3PK",
    "breaksAt",
    // The clock's bookkeeping (SPEC §10): the due index's moment, the at-risk moment and notes,
    // freezes a run earned.
    "dueAt",
    "atRiskAt",
    "atRiskSentFor",
    "atRiskSkippedFor",
    "freezesEarned",
    "runKey",
    "runStartDay",
    "windowKey",
    "progressKey",
    // The stream processor's bookkeeping: optimistic version, window counters, milestones rewarded.
    "ver",
    "windowsJoined",
    "windowsCompleted",
    "rewarded",
];

fn parse_time(v: &Value) -> Option<Timestamp> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A stored record as read at `now` (SPEC §6, reads reflect the clock): a streak waiting on a period
/// that has ended reads `broken`; a challenge window that has ended below target reads `failed`.
pub fn as_read(mut record: Value, now: Timestamp) -> Value {
    restore_stored_defaults(&mut record);
    // A run that may be kept by a freeze is decided by the sweep within a minute, not here.
    let may_freeze = record["freezesAvailable"].as_u64().unwrap_or(0) > 0;
    if record["streakProgressStatus"] == "in_progress" && !may_freeze {
        if let Some(deadline) = parse_time(&record["breaksAt"]).filter(|d| *d <= now) {
            record["streakProgressStatus"] = "broken".into();
            record["streakBrokenAt"] = time::format(&deadline).into();
        }
    }
    if record["challengeProgressStatus"] == "in_progress" {
        if let Some(end) = parse_time(&record["taskProgress"]["periodEnd"]).filter(|e| *e <= now) {
            record["challengeProgressStatus"] = "failed".into();
            record["challengeFailedAt"] = time::format(&end).into();
        }
    }
    if let Value::Object(map) = &mut record {
        for key in INTERNAL {
            map.remove(*key);
        }
    }
    record
}

/// What the stream processor leaves out of a progress record it stores (processor::records
/// `as_stored`): `null`s, `createdAt` (the run's start, the window's), freezes when there are
/// none (and runs stored before freezes have none).
fn restore_stored_defaults(record: &mut Value) {
    let Some(fields) = record.as_object_mut() else {
        return;
    };
    let defaults: &[(&str, Value)] = if fields.contains_key("streakProgressStatus") {
        &[
            ("streakCompletedAt", Value::Null),
            ("streakBrokenAt", Value::Null),
            ("freezesAvailable", json!(0)),
            ("freezesUsed", json!(0)),
            ("frozenPeriods", json!([])),
        ]
    } else if fields.contains_key("challengeProgressStatus") {
        &[
            ("challengeCompletedAt", Value::Null),
            ("challengeFailedAt", Value::Null),
        ]
    } else {
        &[]
    };
    for (name, value) in defaults {
        fields.entry(*name).or_insert_with(|| value.clone());
    }
    if !fields.contains_key("createdAt") && !defaults.is_empty() {
        let started = fields
            .get("streakStartedAt")
            .or_else(|| {
                fields
                    .get("taskProgress")
                    .and_then(|t| t.get("periodStart"))
            })
            .cloned();
        if let Some(started) = started {
            fields.insert("createdAt".into(), started);
        }
    }
}

fn not_found(kind: RecordKind) -> ApiError {
    ApiError::NotFound(format!("No {} with this id.", kind.slug()))
}

pub async fn get(
    store: &Store,
    tenant: &Tenant,
    kind: RecordKind,
    id: &str,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let record = store
        .get_record(tenant, kind.slug(), id)
        .await?
        .ok_or_else(|| not_found(kind))?;
    Ok(as_read(record, now))
}

/// Lists newest first. `status` is judged at read time, so it filters after the clock is applied.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    kind: RecordKind,
    params: &BTreeMap<String, String>,
    scope: Scope<'_>,
    limit: usize,
    now: Timestamp,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let status = params.get("status").cloned();
    if let Some(s) = &status {
        let valid: &[&str] = match kind {
            RecordKind::StreakProgress => &["in_progress", "completed", "broken"],
            _ => &["in_progress", "completed", "failed"],
        };
        if !valid.contains(&s.as_str()) {
            return Err(ApiError::field(
                "status",
                format!("must be one of {}", valid.join(", ")),
            ));
        }
    }
    // Every filter but `status` is a stored attribute of the same name.
    let conditions: Vec<Condition> = kind
        .filters()
        .iter()
        .filter(|f| **f != "status")
        .filter_map(|f| Some(Condition::equals(f, params.get(*f)?.clone())))
        .collect();
    let (records, next) = lists::page::<Value>(
        store,
        codec,
        tenant,
        kind.slug(),
        params,
        scope,
        &conditions,
        limit,
    )
    .await?;
    let records = records
        .into_iter()
        .map(|r| as_read(r, now))
        .filter(|r| match (&status, kind.status_field()) {
            (Some(s), Some(field)) => r[field] == s.as_str(),
            _ => true,
        })
        .collect();
    Ok((records, next))
}

/// The only fields of a reward an admin may change (SPEC §6).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RewardPatch {
    #[serde(default)]
    pub coupon_code: Patch<String>,
    #[serde(default)]
    pub reward_issued_at: Patch<String>,
    #[serde(default)]
    pub reward_expiry_at: Patch<String>,
}

pub async fn patch_reward(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    patch: RewardPatch,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let mut changes: Vec<(&str, Option<Value>)> = Vec::new();
    let mut errors = Vec::new();
    if let Patch::Value(code) = &patch.coupon_code {
        if let Err(m) = domain::validate::max_chars(code, 256) {
            errors.push(domain::FieldError::new("couponCode", m));
        }
    }
    match patch.coupon_code {
        Patch::Absent => {}
        Patch::Null => changes.push(("couponCode", None)),
        Patch::Value(code) => changes.push(("couponCode", Some(Value::String(code)))),
    }
    for (field, value) in [
        ("rewardIssuedAt", patch.reward_issued_at),
        ("rewardExpiryAt", patch.reward_expiry_at),
    ] {
        match value {
            Patch::Absent => {}
            Patch::Null => changes.push((field, None)),
            Patch::Value(text) => match chrono::DateTime::parse_from_rfc3339(&text) {
                Ok(t) => changes.push((
                    field,
                    Some(time::format(&t.with_timezone(&chrono::Utc)).into()),
                )),
                Err(_) => errors.push(domain::FieldError::new(
                    field,
                    "must be an RFC 3339 timestamp",
                )),
            },
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let record = store
        .get_record(tenant, RecordKind::RewardLog.slug(), id)
        .await?
        .ok_or_else(|| not_found(RecordKind::RewardLog))?;
    let updated = store
        .update_record(&record, &changes, now)
        .await?
        .ok_or_else(|| not_found(RecordKind::RewardLog))?;
    Ok(as_read(updated, now))
}
