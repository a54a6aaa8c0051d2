//! Opaque, tamper-proof paging cursors bound to the tenant and the query that produced them (SPEC §2).
//!
//! A cursor is `base64url(payload) "." base64url(hmac_sha256(secret, binding || payload))`, where
//! `binding` names the tenant and the canonical query. Changing a byte, replaying it for another
//! tenant or another filter set fails verification.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ApiError;
use crate::tenant::Tenant;

type HmacSha256 = Hmac<Sha256>;

/// The position to resume from: DynamoDB's LastEvaluatedKey, all of whose attributes are strings here.
pub type Position = BTreeMap<String, String>;

#[derive(Clone)]
pub struct CursorCodec {
    secret: Vec<u8>,
}

/// What a cursor is bound to: the tenant, the route and its filters in canonical order.
pub struct Binding<'a> {
    pub tenant: &'a Tenant,
    pub query: &'a str,
    pub filters: &'a BTreeMap<String, String>,
}

impl Binding<'_> {
    fn bytes(&self) -> Vec<u8> {
        let filters = serde_json::to_string(self.filters).unwrap_or_default();
        format!(
            "{}\n{}\n{}\n",
            self.tenant.key_prefix(),
            self.query,
            filters
        )
        .into_bytes()
    }
}

/// 400 naming `cursor`: the one answer to any cursor that cannot resume its query.
pub fn invalid_cursor() -> ApiError {
    ApiError::field(
        "cursor",
        "is not a cursor this query produced; start again without it",
    )
}

/// The shortest `CURSOR_SECRET` accepted in Lambda (the template generates 48 characters).
pub const MIN_SECRET_BYTES: usize = 32;

impl CursorCodec {
    /// The secret that signs cursors: `CURSOR_SECRET` (from Secrets Manager in AWS), or a fixed
    /// development value for the local run. In Lambda a missing or short secret stops the
    /// function at start-up (a public constant would let anyone forge cursors).
    pub fn from_env() -> Self {
        match Self::from_secret(
            std::env::var("CURSOR_SECRET").ok(),
            std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some(),
        ) {
            Ok(codec) => codec,
            Err(e) => panic!("{e}"),
        }
    }

    fn from_secret(secret: Option<String>, in_lambda: bool) -> Result<Self, String> {
        match secret {
            Some(s) if s.len() >= MIN_SECRET_BYTES || !in_lambda => Ok(Self::new(s)),
            Some(_) => Err(format!(
                "CURSOR_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            )),
            None if in_lambda => {
                Err("CURSOR_SECRET is not set: list cursors cannot be signed".into())
            }
            None => Ok(Self::new("local-development-cursor-secret")),
        }
    }

    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    fn mac(&self, binding: &Binding<'_>, payload: &[u8]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(&binding.bytes());
        mac.update(payload);
        mac
    }

    pub fn encode(&self, binding: &Binding<'_>, position: &Position) -> String {
        let payload = serde_json::to_vec(position).unwrap_or_default();
        let tag = self.mac(binding, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Where a list starts: after the `cursor` query parameter, if one was sent.
    pub fn start(
        &self,
        binding: &Binding<'_>,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<Position>, ApiError> {
        params
            .get("cursor")
            .map(|c| self.decode(binding, c))
            .transpose()
    }

    pub fn decode(&self, binding: &Binding<'_>, cursor: &str) -> Result<Position, ApiError> {
        let invalid = invalid_cursor;
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        self.mac(binding, &payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_needs_a_real_secret_the_local_run_does_not() {
        assert!(CursorCodec::from_secret(None, true).is_err());
        assert!(CursorCodec::from_secret(Some("short".into()), true).is_err());
        assert!(CursorCodec::from_secret(Some("k".repeat(32)), true).is_ok());
        assert!(CursorCodec::from_secret(None, false).is_ok());
    }
    use crate::tenant::Environment;

    #[test]
    fn round_trip_and_tamper_proof() {
        let codec = CursorCodec::new("secret");
        let tenant = Tenant::new("acc1", Environment::Live);
        let filters = BTreeMap::from([("status".to_string(), "live".to_string())]);
        let binding = Binding {
            tenant: &tenant,
            query: "members",
            filters: &filters,
        };
        let pos = Position::from([("PK".to_string(), "a".to_string())]);
        let c = codec.encode(&binding, &pos);
        assert_eq!(codec.decode(&binding, &c).unwrap(), pos);

        let other_tenant = Tenant::new("acc2", Environment::Live);
        let b2 = Binding {
            tenant: &other_tenant,
            query: "members",
            filters: &filters,
        };
        assert!(codec.decode(&b2, &c).is_err(), "bound to the tenant");
        let test_env = Tenant::new("acc1", Environment::Test);
        let b3 = Binding {
            tenant: &test_env,
            query: "members",
            filters: &filters,
        };
        assert!(codec.decode(&b3, &c).is_err(), "bound to the environment");
        let no_filters = BTreeMap::new();
        let b4 = Binding {
            tenant: &tenant,
            query: "members",
            filters: &no_filters,
        };
        assert!(codec.decode(&b4, &c).is_err(), "bound to the filters");

        let mut tampered = c.clone().into_bytes();
        tampered[1] ^= 1;
        let tampered = String::from_utf8_lossy(&tampered).to_string();
        assert!(codec.decode(&binding, &tampered).is_err());
        assert!(codec.decode(&binding, "garbage").is_err());
        assert!(CursorCodec::new("other").decode(&binding, &c).is_err());
    }
}
