//! The words programs and the progress engine share: how a program aggregates logs, over which
//! periods, and the counted log the engine takes as input. The engine itself (the `engine` crate)
//! depends on these; nothing here depends on it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AggregationMethod {
    Sum,
    Count,
}

/// One log that counts toward progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedLog {
    /// Unique per program and member (the log id); ties in `activity_at` are ordered by it.
    pub id: String,
    pub activity_at: DateTime<Utc>,
    /// `activityValue`; ignored by `count`.
    pub value: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Daily,
    Weekly,
    Monthly,
}
