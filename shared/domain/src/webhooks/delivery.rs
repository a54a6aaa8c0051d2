//! One event's delivery to one endpoint: attempts, the retry schedule (Standard Webhooks'
//! recommendation, stretched to about three days), and what an answer means for the endpoint.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Waits before each retry after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h,
/// 24 h, 24 h — ten attempts over about 3 days — each with ±10 % jitter, so that the retries of
/// many deliveries that failed together (an endpoint's outage) do not arrive together.
pub const RETRY_DELAYS_SECONDS: &[u64] =
    &[5, 300, 1800, 7200, 18_000, 36_000, 36_000, 86_400, 86_400];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            delays: RETRY_DELAYS_SECONDS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        }
    }
}

impl RetrySchedule {
    /// `WEBHOOK_RETRY_DELAYS` (seconds, comma-separated; tests shorten it), else the default.
    pub fn from_env() -> Self {
        std::env::var("WEBHOOK_RETRY_DELAYS")
            .ok()
            .and_then(|text| {
                text.split(',')
                    .map(|s| s.trim().parse::<f64>().ok().map(Duration::from_secs_f64))
                    .collect::<Option<Vec<_>>>()
            })
            .filter(|delays| !delays.is_empty())
            .map(|delays| Self { delays })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet: an attempt is due at `nextAttemptAt`.
    Pending,
    Succeeded,
    /// Given up: every attempt failed, or the endpoint answered 410, or it was disabled.
    Failed,
}

/// One delivery as stored and as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The event's id: `webhook-id`, the same on every attempt.
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    /// `{type, timestamp, data}`, byte for byte what every attempt sends.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(default, with = "crate::time::rfc3339_ms::option")]
    pub next_attempt_at: Option<Timestamp>,
    #[serde(default)]
    pub last_response_code: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(with = "crate::time::rfc3339_ms")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::rfc3339_ms")]
    pub updated_at: Timestamp,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered with this status.
    Answered(u16),
    /// No answer: refused, timed out, TLS, or an address we may not call.
    NoAnswer(String),
}

/// What an attempt means for the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChange {
    None,
    /// Disable it, saying why (shown as `disabledReason`).
    Disable(String),
}

/// A new delivery is attempted at once by the invocation that created it; the retry sweep takes
/// it only after this long (longer than an attempt may take), so the two never both send it. An
/// invocation that died before recording its attempt leaves it to the sweep.
pub const FIRST_ATTEMPT_LEASE: chrono::Duration = chrono::Duration::seconds(30);

impl Delivery {
    pub fn new(
        id: String,
        endpoint_id: String,
        event_type: &str,
        payload: String,
        now: Timestamp,
    ) -> Self {
        Delivery {
            id,
            endpoint_id,
            event_type: event_type.to_string(),
            payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(now + FIRST_ATTEMPT_LEASE),
            last_response_code: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Records one attempt: a 2xx succeeds; a 410 gives up and disables the endpoint (the
    /// receiver said it is gone); anything else is retried on `schedule`, and the last failure
    /// of the schedule gives up and disables the endpoint.
    pub fn record(
        &mut self,
        attempt: Attempt,
        now: Timestamp,
        schedule: &RetrySchedule,
    ) -> EndpointChange {
        self.attempts += 1;
        self.updated_at = now;
        self.next_attempt_at = None;
        let (code, error) = match &attempt {
            Attempt::Answered(code) => (Some(*code), None),
            Attempt::NoAnswer(e) => (None, Some(e.clone())),
        };
        self.last_response_code = code;
        self.last_error = error;
        match attempt {
            Attempt::Answered(200..=299) => {
                self.status = DeliveryStatus::Succeeded;
                EndpointChange::None
            }
            Attempt::Answered(410) => {
                self.status = DeliveryStatus::Failed;
                EndpointChange::Disable("the endpoint answered 410 Gone".into())
            }
            _ => match schedule.delays.get(self.attempts as usize - 1) {
                Some(wait) => {
                    let wait = wait.mul_f64(0.9 + 0.2 * crate::retry::unit_random());
                    self.next_attempt_at = chrono::Duration::from_std(wait).ok().map(|w| now + w);
                    EndpointChange::None
                }
                None => {
                    self.status = DeliveryStatus::Failed;
                    EndpointChange::Disable(format!(
                        "{} attempts of one delivery failed over {} hours",
                        self.attempts,
                        schedule.delays.iter().map(Duration::as_secs).sum::<u64>() / 3600
                    ))
                }
            },
        }
    }

    /// Gives up without an attempt (its endpoint was disabled or deleted meanwhile).
    pub fn give_up(&mut self, reason: &str, now: Timestamp) {
        self.status = DeliveryStatus::Failed;
        self.next_attempt_at = None;
        self.last_error = Some(reason.to_string());
        self.updated_at = now;
    }

    /// As the delivery log shows it: the payload as JSON (`event`).
    pub fn to_record(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("payload");
            map.insert(
                "event".into(),
                serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
            );
        }
        value
    }

    /// Sends it again (a replay from the delivery log): one more attempt, now.
    pub fn replay(&mut self, now: Timestamp) {
        self.status = DeliveryStatus::Pending;
        self.next_attempt_at = Some(now);
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-03T10:00:00Z".parse().unwrap()
    }

    fn delivery() -> Delivery {
        Delivery::new(
            "msg_1".into(),
            "e1".into(),
            "member.created",
            "{}".into(),
            now(),
        )
    }

    #[test]
    fn retries_follow_the_schedule_for_three_days_then_give_up_and_disable() {
        let schedule = RetrySchedule::default();
        let total: u64 = RETRY_DELAYS_SECONDS.iter().sum();
        assert!(
            (72 * 3600..=76 * 3600).contains(&total),
            "about 3 days: {total}"
        );
        let mut d = delivery();
        let mut at = now();
        for (i, wait) in RETRY_DELAYS_SECONDS.iter().enumerate() {
            let change = d.record(Attempt::Answered(500), at, &schedule);
            assert_eq!(change, EndpointChange::None);
            assert_eq!(d.attempts as usize, i + 1);
            let next = d.next_attempt_at.unwrap();
            let waited = (next - at).num_milliseconds() as f64 / 1000.0;
            let wait = *wait as f64;
            assert!(
                waited >= wait * 0.9 && waited <= wait * 1.1,
                "{waited} for {wait}"
            );
            at = next;
        }
        let change = d.record(Attempt::NoAnswer("timed out".into()), at, &schedule);
        assert!(matches!(change, EndpointChange::Disable(_)), "{change:?}");
        assert_eq!(
            (d.status, d.attempts, d.next_attempt_at),
            (DeliveryStatus::Failed, 10, None)
        );
        assert_eq!(d.last_error.as_deref(), Some("timed out"));
    }

    #[test]
    fn a_2xx_succeeds_and_a_410_disables_at_once() {
        let schedule = RetrySchedule::default();
        let mut ok = delivery();
        assert_eq!(
            ok.record(Attempt::Answered(204), now(), &schedule),
            EndpointChange::None
        );
        assert_eq!(
            (ok.status, ok.last_response_code),
            (DeliveryStatus::Succeeded, Some(204))
        );
        let mut gone = delivery();
        assert!(matches!(
            gone.record(Attempt::Answered(410), now(), &schedule),
            EndpointChange::Disable(_)
        ));
        assert_eq!(gone.status, DeliveryStatus::Failed);
        gone.replay(now());
        assert_eq!(
            (gone.status, gone.next_attempt_at),
            (DeliveryStatus::Pending, Some(now()))
        );
    }

    #[test]
    fn the_schedule_can_be_shortened_for_tests() {
        std::env::set_var("WEBHOOK_RETRY_DELAYS", "0.2, 0.5");
        let s = RetrySchedule::from_env();
        std::env::remove_var("WEBHOOK_RETRY_DELAYS");
        assert_eq!(
            s.delays,
            vec![Duration::from_millis(200), Duration::from_millis(500)]
        );
    }
}
