//! How counted logs fold into periods: de-duplicated, grouped by period, summed or counted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::progress::{AggregationMethod, CountedLog, PeriodKind};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::period::Period;

/// What the engine needs of a program: how logs fold into periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub method: AggregationMethod,
    pub period: PeriodKind,
    /// The member's zone if set, else the program's.
    pub tz: Tz,
}

/// A period with the logs that fell in it, in order.
#[derive(Debug, Clone)]
pub(crate) struct PeriodLogs<'a> {
    pub(crate) period: Period,
    pub(crate) logs: Vec<&'a CountedLog>,
}

impl Aggregation {
    fn contribution(&self, log: &CountedLog) -> Decimal {
        match self.method {
            AggregationMethod::Sum => log.value,
            AggregationMethod::Count => Decimal::ONE,
        }
    }

    /// Unique logs grouped by period, periods and logs in time order.
    pub(crate) fn group<'a>(
        &self,
        logs: &'a [CountedLog],
    ) -> BTreeMap<chrono::NaiveDate, PeriodLogs<'a>> {
        let mut unique: BTreeMap<(DateTime<Utc>, &str), &CountedLog> = BTreeMap::new();
        for log in logs {
            unique
                .entry((log.activity_at, log.id.as_str()))
                .or_insert(log);
        }
        let mut seen_ids = std::collections::HashSet::new();
        let mut periods: BTreeMap<chrono::NaiveDate, PeriodLogs<'a>> = BTreeMap::new();
        for log in unique.into_values() {
            // The same id twice (a replay with another timestamp cannot happen: logs are immutable)
            // is still counted once.
            if !seen_ids.insert(log.id.as_str()) {
                continue;
            }
            let period = Period::containing(self.period, self.tz, log.activity_at);
            periods
                .entry(period.first_day)
                .or_insert_with(|| PeriodLogs {
                    period,
                    logs: Vec::new(),
                })
                .logs
                .push(log);
        }
        periods
    }

    pub(crate) fn total(&self, logs: &[&CountedLog]) -> Decimal {
        logs.iter().map(|l| self.contribution(l)).sum()
    }

    /// The `activityAt` of the log whose contribution first brings the running total to `target`.
    pub(crate) fn reached_at(
        &self,
        logs: &[&CountedLog],
        target: Decimal,
    ) -> Option<DateTime<Utc>> {
        let mut total = Decimal::ZERO;
        for log in logs {
            total += self.contribution(log);
            if total >= target {
                return Some(log.activity_at);
            }
        }
        None
    }
}

/// The period a progress record is working on (`taskProgress`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgress {
    pub period_key: String,
    #[serde(with = "domain::time::rfc3339_ms")]
    pub period_start: DateTime<Utc>,
    #[serde(with = "domain::time::rfc3339_ms")]
    pub period_end: DateTime<Utc>,
    #[serde(serialize_with = "domain::amount::as_number")]
    pub current_value: Decimal,
    #[serde(serialize_with = "domain::amount::as_number")]
    pub target_value: Decimal,
}

impl TaskProgress {
    pub(crate) fn of(period: &Period, value: Decimal, target: Decimal) -> Self {
        TaskProgress {
            period_key: period.key(),
            period_start: period.start(),
            period_end: period.end(),
            current_value: value,
            target_value: target,
        }
    }
}
