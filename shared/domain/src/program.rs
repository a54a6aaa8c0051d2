//! Programs (SPEC §4): `streak`, `challenge` and `milestone` records, their inputs and rules.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::amount::Amount;
use crate::error::{ApiError, FieldError};
use crate::patch::Patch;
use crate::progress::{AggregationMethod, PeriodKind};
use crate::time::{self, Timestamp};
use crate::validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgramKind {
    Streak,
    Challenge,
    Milestone,
}

impl ProgramKind {
    pub fn slug(self) -> &'static str {
        match self {
            ProgramKind::Streak => "streak",
            ProgramKind::Challenge => "challenge",
            ProgramKind::Milestone => "milestone",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        match slug {
            "streak" => Some(ProgramKind::Streak),
            "challenge" => Some(ProgramKind::Challenge),
            "milestone" => Some(ProgramKind::Milestone),
            _ => None,
        }
    }

    /// The fields a record of this kind has, besides `id`, `createdAt` and `updatedAt`.
    fn fields(self) -> &'static [&'static str] {
        match self {
            ProgramKind::Streak => &[
                "name",
                "description",
                "status",
                "completionTargetValue",
                "aggregationMethod",
                "aggregationPeriod",
                "aggregationTargetValue",
                "timezone",
                "atRiskLeadMinutes",
                "maxFreezes",
                "freezeEarnEveryPeriods",
            ],
            ProgramKind::Challenge => &[
                "name",
                "description",
                "status",
                "completionTargetValue",
                "aggregationMethod",
                "aggregationPeriod",
                "timezone",
                "startAt",
                "endAt",
            ],
            ProgramKind::Milestone => &[
                "linkedSchemaSlug",
                "linkedSchemaRecordId",
                "name",
                "description",
                "milestoneTargetValue",
                "status",
                "rewardPoints",
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgramStatus {
    Draft,
    Live,
    Paused,
}

impl ProgramStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProgramStatus::Draft => "draft",
            ProgramStatus::Live => "live",
            ProgramStatus::Paused => "paused",
        }
    }

    /// A list's `status` filter (programs and leaderboards): 400 naming it unless a status.
    pub fn from_filter(value: &str) -> Result<Self, ApiError> {
        [Self::Draft, Self::Live, Self::Paused]
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| ApiError::field("status", "must be draft, live or paused"))
    }
}

/// A program as stored. Fields that do not belong to `kind` stay `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    pub id: String,
    pub kind: ProgramKind,
    pub name: String,
    pub description: Option<String>,
    pub status: ProgramStatus,
    pub completion_target_value: Option<Amount>,
    pub aggregation_method: Option<AggregationMethod>,
    pub aggregation_period: Option<PeriodKind>,
    pub aggregation_target_value: Option<Amount>,
    pub timezone: Option<String>,
    #[serde(with = "time::rfc3339_ms::option", default)]
    pub start_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339_ms::option", default)]
    pub end_at: Option<Timestamp>,
    pub linked_schema_slug: Option<ProgramKind>,
    pub linked_schema_record_id: Option<String>,
    pub milestone_target_value: Option<Amount>,
    pub reward_points: Option<Amount>,
    /// Streaks (SPEC §10): minutes before a period's end at which an incomplete period is at
    /// risk (0: off), freezes a member may hold, completed periods that earn one.
    #[serde(default)]
    pub at_risk_lead_minutes: Option<u32>,
    #[serde(default)]
    pub max_freezes: Option<u32>,
    #[serde(default)]
    pub freeze_earn_every_periods: Option<u32>,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339_ms")]
    pub updated_at: Timestamp,
    /// Raised whenever one of the program's milestones is created, changed or deleted: with
    /// `updatedAt` it names the rules a log was accepted under (`version`). Not in any answer.
    #[serde(default)]
    pub rules_rev: u64,
}

/// The body of a program create or PATCH: every field absent, null or set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramInput {
    #[serde(default)]
    pub name: Patch<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub status: Patch<ProgramStatus>,
    #[serde(default)]
    pub completion_target_value: Patch<Amount>,
    #[serde(default)]
    pub aggregation_method: Patch<AggregationMethod>,
    #[serde(default)]
    pub aggregation_period: Patch<PeriodKind>,
    #[serde(default)]
    pub aggregation_target_value: Patch<Amount>,
    #[serde(default)]
    pub timezone: Patch<String>,
    #[serde(default)]
    pub start_at: Patch<String>,
    #[serde(default)]
    pub end_at: Patch<String>,
    #[serde(default)]
    pub linked_schema_slug: Patch<ProgramKind>,
    #[serde(default)]
    pub linked_schema_record_id: Patch<String>,
    #[serde(default)]
    pub milestone_target_value: Patch<Amount>,
    #[serde(default)]
    pub reward_points: Patch<Amount>,
    #[serde(default)]
    pub at_risk_lead_minutes: Patch<Amount>,
    #[serde(default)]
    pub max_freezes: Patch<Amount>,
    #[serde(default)]
    pub freeze_earn_every_periods: Patch<Amount>,
}

/// `atRiskLeadMinutes` when a streak does not say (SPEC §10).
pub const DEFAULT_AT_RISK_LEAD_MINUTES: u32 = 240;
/// The most freezes a streak may let a member hold.
pub const MAX_FREEZES: u32 = 10;

/// A whole number in `[min, max]` (`max` `None`: no upper bound), or the field's error.
fn whole_number(
    field: &str,
    patch: &Patch<Amount>,
    min: u32,
    max: Option<u32>,
    errors: &mut Vec<FieldError>,
) -> Patch<u32> {
    match patch {
        Patch::Absent => Patch::Absent,
        Patch::Null => Patch::Null,
        Patch::Value(v) => {
            let n = rust_decimal::prelude::ToPrimitive::to_u32(&v.decimal())
                .filter(|n| v.is_integer() && *n >= min && max.is_none_or(|m| *n <= m));
            match n {
                Some(n) => Patch::Value(n),
                None => {
                    let range = match max {
                        Some(max) => format!("from {min} to {max}"),
                        None => format!("of at least {min}"),
                    };
                    errors.push(FieldError::new(
                        field,
                        format!("must be a whole number {range}"),
                    ));
                    Patch::Absent
                }
            }
        }
    }
}

fn parse_time(field: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<Timestamp> {
    match chrono::DateTime::parse_from_rfc3339(value) {
        Ok(t) => Some(t.with_timezone(&chrono::Utc)),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 timestamp, e.g. 2026-11-24T00:00:00Z",
            ));
            None
        }
    }
}

/// A required field is missing when it is null, or absent from a create.
fn require<T>(errors: &mut Vec<FieldError>, creating: bool, field: &str, patch: &Patch<T>) {
    if matches!(patch, Patch::Null) || (creating && patch.is_absent()) {
        errors.push(FieldError::new(field, "is required"));
    }
}

fn set<T: Clone>(patch: &Patch<T>, target: &mut Option<T>) {
    patch.clone().apply_to(target);
}

impl ProgramInput {
    /// Names of the fields this input sends (set or null).
    fn sent(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |name, absent: bool| {
            if !absent {
                out.push(name)
            }
        };
        add("name", self.name.is_absent());
        add("description", self.description.is_absent());
        add("status", self.status.is_absent());
        add(
            "completionTargetValue",
            self.completion_target_value.is_absent(),
        );
        add("aggregationMethod", self.aggregation_method.is_absent());
        add("aggregationPeriod", self.aggregation_period.is_absent());
        add(
            "aggregationTargetValue",
            self.aggregation_target_value.is_absent(),
        );
        add("timezone", self.timezone.is_absent());
        add("startAt", self.start_at.is_absent());
        add("endAt", self.end_at.is_absent());
        add("linkedSchemaSlug", self.linked_schema_slug.is_absent());
        add(
            "linkedSchemaRecordId",
            self.linked_schema_record_id.is_absent(),
        );
        add(
            "milestoneTargetValue",
            self.milestone_target_value.is_absent(),
        );
        add("rewardPoints", self.reward_points.is_absent());
        add("atRiskLeadMinutes", self.at_risk_lead_minutes.is_absent());
        add("maxFreezes", self.max_freezes.is_absent());
        add(
            "freezeEarnEveryPeriods",
            self.freeze_earn_every_periods.is_absent(),
        );
        out
    }

    /// Applies this input to `base` (a new record for create) and checks every rule of SPEC §4 on
    /// the result. Whether a milestone's parent exists is checked by the caller, against the store.
    pub fn apply(
        &self,
        kind: ProgramKind,
        base: Option<&Program>,
        id: String,
        now: Timestamp,
    ) -> Result<Program, ApiError> {
        let mut errors = Vec::new();
        for field in self.sent() {
            if !kind.fields().contains(&field) {
                errors.push(FieldError::new(
                    field,
                    format!("is not a field of a {}", kind.slug()),
                ));
            }
        }
        let mut p = base.cloned().unwrap_or(Program {
            id,
            kind,
            name: String::new(),
            description: None,
            status: ProgramStatus::Draft,
            completion_target_value: None,
            aggregation_method: None,
            aggregation_period: None,
            aggregation_target_value: None,
            timezone: None,
            start_at: None,
            end_at: None,
            linked_schema_slug: None,
            linked_schema_record_id: None,
            milestone_target_value: None,
            reward_points: None,
            at_risk_lead_minutes: None,
            max_freezes: None,
            freeze_earn_every_periods: None,
            created_at: now,
            updated_at: now,
            rules_rev: 0,
        });
        let creating = base.is_none();
        require(&mut errors, creating, "name", &self.name);
        require(&mut errors, creating, "status", &self.status);
        if let Patch::Value(name) = &self.name {
            match validate::required_chars(name, 256) {
                Ok(()) => p.name = name.clone(),
                Err(m) => errors.push(FieldError::new("name", m)),
            }
        }
        if let Patch::Value(d) = &self.description {
            if let Err(m) = validate::max_chars(d, 1024) {
                errors.push(FieldError::new("description", m));
            }
        }
        set(&self.description, &mut p.description);
        if let Patch::Value(s) = self.status {
            p.status = s;
        }

        if kind != ProgramKind::Milestone {
            set(&self.aggregation_method, &mut p.aggregation_method);
            set(&self.aggregation_period, &mut p.aggregation_period);
            set(&self.timezone, &mut p.timezone);
            // Defaults (SPEC §4): sum, daily, UTC. `null` restores the default.
            p.aggregation_method.get_or_insert(AggregationMethod::Sum);
            p.aggregation_period.get_or_insert(PeriodKind::Daily);
            if let Some(tz) = &p.timezone {
                if let Err(m) = validate::timezone(tz) {
                    errors.push(FieldError::new("timezone", m));
                }
            }
            p.timezone.get_or_insert_with(|| "UTC".to_string());
            require(
                &mut errors,
                creating,
                "completionTargetValue",
                &self.completion_target_value,
            );
            set(
                &self.completion_target_value,
                &mut p.completion_target_value,
            );
        }
        match kind {
            ProgramKind::Streak => {
                if let Patch::Value(v) = self.completion_target_value {
                    if !v.is_integer() || v.decimal() < rust_decimal::Decimal::ONE {
                        errors.push(FieldError::new(
                            "completionTargetValue",
                            "must be a whole number of periods, at least 1",
                        ));
                    }
                }
                require(
                    &mut errors,
                    creating,
                    "aggregationTargetValue",
                    &self.aggregation_target_value,
                );
                set(
                    &self.aggregation_target_value,
                    &mut p.aggregation_target_value,
                );
                if let Patch::Value(v) = self.aggregation_target_value {
                    if v.decimal() <= rust_decimal::Decimal::ZERO {
                        errors.push(FieldError::new(
                            "aggregationTargetValue",
                            "must be greater than 0",
                        ));
                    }
                }
                // The clock's fields (SPEC §10); `null` restores the default.
                let lead = whole_number(
                    "atRiskLeadMinutes",
                    &self.at_risk_lead_minutes,
                    0,
                    Some(1440),
                    &mut errors,
                );
                set(&lead, &mut p.at_risk_lead_minutes);
                p.at_risk_lead_minutes
                    .get_or_insert(DEFAULT_AT_RISK_LEAD_MINUTES);
                let max = whole_number(
                    "maxFreezes",
                    &self.max_freezes,
                    0,
                    Some(MAX_FREEZES),
                    &mut errors,
                );
                set(&max, &mut p.max_freezes);
                p.max_freezes.get_or_insert(0);
                let every = whole_number(
                    "freezeEarnEveryPeriods",
                    &self.freeze_earn_every_periods,
                    1,
                    None,
                    &mut errors,
                );
                set(&every, &mut p.freeze_earn_every_periods);
            }
            ProgramKind::Challenge => {
                if let Patch::Value(v) = self.completion_target_value {
                    if v.decimal() <= rust_decimal::Decimal::ZERO {
                        errors.push(FieldError::new(
                            "completionTargetValue",
                            "must be greater than 0",
                        ));
                    }
                }
                for (field, patch, target) in [
                    ("startAt", &self.start_at, &mut p.start_at),
                    ("endAt", &self.end_at, &mut p.end_at),
                ] {
                    match patch {
                        Patch::Absent => {}
                        Patch::Null => *target = None,
                        Patch::Value(v) => *target = parse_time(field, v, &mut errors).or(*target),
                    }
                }
                if let (Some(start), Some(end)) = (p.start_at, p.end_at) {
                    if start >= end {
                        errors.push(FieldError::new("endAt", "must be after startAt"));
                    }
                }
            }
            ProgramKind::Milestone => {
                require(
                    &mut errors,
                    creating,
                    "linkedSchemaSlug",
                    &self.linked_schema_slug,
                );
                require(
                    &mut errors,
                    creating,
                    "linkedSchemaRecordId",
                    &self.linked_schema_record_id,
                );
                require(
                    &mut errors,
                    creating,
                    "milestoneTargetValue",
                    &self.milestone_target_value,
                );
                if let Patch::Value(ProgramKind::Milestone) = self.linked_schema_slug {
                    errors.push(FieldError::new(
                        "linkedSchemaSlug",
                        "must be streak or challenge",
                    ));
                }
                set(&self.linked_schema_slug, &mut p.linked_schema_slug);
                set(
                    &self.linked_schema_record_id,
                    &mut p.linked_schema_record_id,
                );
                set(&self.milestone_target_value, &mut p.milestone_target_value);
                if let Patch::Value(v) = self.milestone_target_value {
                    if v.decimal() <= rust_decimal::Decimal::ZERO {
                        errors.push(FieldError::new(
                            "milestoneTargetValue",
                            "must be greater than 0",
                        ));
                    }
                }
                set(&self.reward_points, &mut p.reward_points);
                if let Patch::Value(v) = self.reward_points {
                    if v.decimal() < rust_decimal::Decimal::ZERO {
                        errors.push(FieldError::new("rewardPoints", "must be 0 or more"));
                    }
                }
                p.reward_points.get_or_insert(Amount::default());
            }
        }
        p.updated_at = now;
        if errors.is_empty() {
            Ok(p)
        } else {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            errors.dedup();
            Err(ApiError::Validation(errors))
        }
    }
}

impl Program {
    /// The program's rules as of now: its own fields (`updatedAt`) and its milestones
    /// (`rulesRev`). A log carries the version the API accepted it under; the stream processor
    /// reuses what it read for that version (processor::programs).
    /// `atRiskLeadMinutes`, its default when unset.
    pub fn at_risk_lead(&self) -> u32 {
        self.at_risk_lead_minutes
            .unwrap_or(DEFAULT_AT_RISK_LEAD_MINUTES)
    }

    pub fn version(&self) -> String {
        format!("{}.{}", self.updated_at.timestamp_millis(), self.rules_rev)
    }

    /// The record as the API returns it: its kind's fields only.
    pub fn to_record(&self) -> Value {
        let full = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut out = Map::new();
        out.insert("id".into(), full["id"].clone());
        for field in self.kind.fields() {
            out.insert(field.to_string(), full[*field].clone());
        }
        if self.kind == ProgramKind::Streak {
            // Streaks stored before the clock's fields read with their defaults.
            out.insert("atRiskLeadMinutes".into(), self.at_risk_lead().into());
            out.insert("maxFreezes".into(), self.max_freezes.unwrap_or(0).into());
        }
        out.insert("createdAt".into(), full["createdAt"].clone());
        out.insert("updatedAt".into(), full["updatedAt"].clone());
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests;
