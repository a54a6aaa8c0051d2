//! Webhook endpoints and their signatures (SPEC §9, Standard Webhooks 1.0): what an endpoint is,
//! which URLs may be one (no plain HTTP on AWS, no private or loopback address unless the local
//! run allows it: SSRF), its signing secret, and the signature of one delivery.

pub mod delivery;

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ApiError, FieldError};
use crate::patch::Patch;
use crate::time::Timestamp;

/// Every event type an endpoint can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "reward_log.created",
    "streak_progress.completed",
    "streak_progress.broken",
    "streak_progress.restored",
    "streak_progress.at_risk",
    "streak_progress.freeze_used",
    "streak_progress.freeze_earned",
    "challenge_progress.completed",
    "challenge_progress.failed",
    "member.created",
    "member.deleted",
    "leaderboard.finished",
];

const MAX_URL_CHARS: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 500;
const SECRET_PREFIX: &str = "whsec_";
/// Standard Webhooks: secrets of 24 to 64 bytes.
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

/// A webhook endpoint as stored. Its secrets are needed to sign, so they are stored (unlike API
/// secrets); the API shows a secret once, when it is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The event types delivered; empty means every type.
    #[serde(default)]
    pub events: Vec<String>,
    pub status: EndpointStatus,
    /// Why the platform disabled it (a `410`, or failures for days); `None` when the customer did.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    pub secret: String,
    /// After a rotation the old secret also signs, until `previous_secret_until`.
    #[serde(default)]
    pub previous_secret: Option<String>,
    #[serde(default, with = "crate::time::rfc3339_ms::option")]
    pub previous_secret_until: Option<Timestamp>,
    #[serde(with = "crate::time::rfc3339_ms")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::rfc3339_ms")]
    pub updated_at: Timestamp,
}

/// The body of a create or a PATCH.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointInput {
    #[serde(default)]
    pub url: Patch<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub events: Patch<Vec<String>>,
    #[serde(default)]
    pub status: Patch<EndpointStatus>,
}

/// Which URLs may receive deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    /// AWS: HTTPS only, to a public host.
    PublicHttps,
    /// The local run: also plain HTTP and private or loopback addresses (`make run`).
    AllowPrivate,
}

impl UrlPolicy {
    /// `WEBHOOKS_ALLOW_PRIVATE_URLS=true` (the local run sets it) allows private URLs.
    pub fn from_env() -> Self {
        match std::env::var("WEBHOOKS_ALLOW_PRIVATE_URLS").as_deref() {
            Ok("true") => UrlPolicy::AllowPrivate,
            _ => UrlPolicy::PublicHttps,
        }
    }
}

/// Is this address one a public endpoint cannot have (loopback, private, link-local — the
/// instance metadata service —, unspecified, documentation, multicast)?
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                // 100.64.0.0/10, carrier-grade NAT.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks an endpoint URL against `policy`. Names are checked again, resolved, when delivering.
pub fn check_url(url: &str, policy: UrlPolicy) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    let parsed = url::Url::parse(url).map_err(|_| "must be an absolute URL".to_string())?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let host = parsed.host().ok_or("must have a host")?;
    let private = match host {
        url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal")
        }
    };
    match (policy, parsed.scheme()) {
        (UrlPolicy::PublicHttps, "https") if !private => Ok(()),
        (UrlPolicy::PublicHttps, "https") => {
            Err("must not be a private or loopback address".into())
        }
        (UrlPolicy::PublicHttps, _) => Err("must be https".into()),
        (UrlPolicy::AllowPrivate, "https" | "http") => Ok(()),
        (UrlPolicy::AllowPrivate, _) => Err("must be http or https".into()),
    }
}

impl EndpointInput {
    /// Every broken rule, by field; `creating` requires `url`.
    pub fn validate(&self, creating: bool, policy: UrlPolicy) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        match &self.url {
            Patch::Value(url) => {
                if let Err(m) = check_url(url, policy) {
                    errors.push(FieldError::new("url", m));
                }
            }
            Patch::Null => errors.push(FieldError::new("url", "cannot be cleared")),
            Patch::Absent if creating => errors.push(FieldError::new("url", "is required")),
            Patch::Absent => {}
        }
        if let Patch::Value(d) = &self.description {
            if let Err(m) = crate::validate::max_chars(d, MAX_DESCRIPTION_CHARS) {
                errors.push(FieldError::new("description", m));
            }
        }
        if let Patch::Value(events) = &self.events {
            if let Some(bad) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
                errors.push(FieldError::new(
                    "events",
                    format!(
                        "unknown event type {bad:?}: one of {}",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
        }
        if matches!(self.status, Patch::Null) {
            errors.push(FieldError::new("status", "cannot be cleared"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

impl Endpoint {
    pub fn new(id: String, input: EndpointInput, now: Timestamp) -> Self {
        let mut endpoint = Endpoint {
            id,
            url: String::new(),
            description: None,
            events: Vec::new(),
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            secret: new_secret(),
            previous_secret: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
        };
        endpoint.apply(input, now);
        endpoint
    }

    /// Applies a validated input.
    pub fn apply(&mut self, input: EndpointInput, now: Timestamp) {
        if let Patch::Value(url) = input.url {
            self.url = url;
        }
        input.description.apply_to(&mut self.description);
        match input.events {
            Patch::Value(events) => self.events = events,
            Patch::Null => self.events.clear(),
            Patch::Absent => {}
        }
        if let Patch::Value(status) = input.status {
            // Enabling again clears the platform's reason for disabling it.
            if status == EndpointStatus::Enabled {
                self.disabled_reason = None;
            }
            self.status = status;
        }
        self.updated_at = now;
    }

    /// The platform disables it (a 410, or a delivery that failed for days), saying why.
    pub fn disable(&mut self, reason: &str, now: Timestamp) {
        self.status = EndpointStatus::Disabled;
        self.disabled_reason = Some(reason.to_string());
        self.updated_at = now;
    }

    /// Does this endpoint take events of `event_type`?
    pub fn wants(&self, event_type: &str) -> bool {
        self.status == EndpointStatus::Enabled
            && (self.events.is_empty() || self.events.iter().any(|e| e == event_type))
    }

    /// A new secret; the old one keeps signing for `grace` (both signatures are sent).
    pub fn rotate_secret(&mut self, now: Timestamp, grace: chrono::Duration) {
        let old = std::mem::replace(&mut self.secret, new_secret());
        self.previous_secret = Some(old);
        self.previous_secret_until = Some(now + grace);
        self.updated_at = now;
    }

    /// The secrets that sign a delivery at `now`: the current one, and a rotated one in its grace.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                secrets.push(old);
            }
        }
        secrets
    }

    /// As the API shows it: everything but the secrets.
    pub fn to_record(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            for hidden in ["secret", "previousSecret", "previousSecretUntil"] {
                map.remove(hidden);
            }
        }
        value
    }
}

fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::getrandom(&mut bytes).expect("the OS random source is available");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// What every endpoint receives for one event: `{type, timestamp, data}`.
pub fn payload(event_type: &str, at: Timestamp, data: serde_json::Value) -> String {
    serde_json::json!({"type": event_type, "timestamp": crate::time::format(&at), "data": data})
        .to_string()
}

/// `webhook-signature` for one delivery (Standard Webhooks): `v1,<base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}">` per secret, separated by spaces. The HMAC key is the base64 after
/// `whsec_`.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
