//! API keys (SPEC §1): generation, hashing and constant-time verification.
//!
//! Secrets are 192 random bits, so a single SHA-256 is the right hash: a slow password hash
//! buys nothing against brute force of that space and would cost every request milliseconds.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::tenant::{Environment, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Draft,
    Live,
    Paused,
    /// Revoked by the operator: never valid again.
    Revoked,
}

/// A stored key. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub api_key: String,
    pub account_id: String,
    pub environment: Environment,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
    pub status: KeyStatus,
    /// A rotated key stays valid until then (the grace period), then never again.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_ms::option"
    )]
    pub expires_at: Option<crate::time::Timestamp>,
}

/// Credentials as they arrive on a request.
#[derive(Debug, Clone, Default)]
pub struct Credentials<'a> {
    pub api_key: Option<&'a str>,
    pub api_secret: Option<&'a str>,
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Does `creds` authenticate as `record` at `now`? Only live keys do, and a rotated key only
/// until its grace period ends; secret keys need their secret.
pub fn verify(record: &KeyRecord, creds: &Credentials<'_>, now: crate::time::Timestamp) -> bool {
    if record.status != KeyStatus::Live
        || creds.api_key != Some(record.api_key.as_str())
        || record.expires_at.is_some_and(|end| now >= end)
    {
        return false;
    }
    match (record.role, &record.secret_hash) {
        (Role::Public, _) => true,
        (Role::Admin, Some(stored)) => match creds.api_secret {
            Some(secret) => {
                let given = hash_secret(secret);
                bool::from(given.as_bytes().ct_eq(stored.as_bytes()))
            }
            None => false,
        },
        (Role::Admin, None) => false,
        // End users hold tokens (`end_user`), never key records.
        (Role::EndUser, _) => false,
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS random source is available");
    hex::encode(buf)
}

/// A freshly generated key set for one environment, with the plain secret shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedKeys {
    pub api_key: String,
    pub api_secret: String,
    pub public_key: String,
}

impl IssuedKeys {
    pub fn generate(environment: Environment) -> Self {
        let env = environment.as_str();
        Self {
            api_key: format!("ak_{env}_{}", random_hex(12)),
            // 72 bytes: longer than HMAC's block, so the stored hash can verify end-user tokens.
            api_secret: format!("sk_{env}_{}", random_hex(32)),
            public_key: format!("pk_{env}_{}", random_hex(16)),
        }
    }

    /// The two records to store: the secret key (hashed) and the public key.
    pub fn records(&self, account_id: &str, environment: Environment) -> [KeyRecord; 2] {
        [
            KeyRecord {
                api_key: self.api_key.clone(),
                account_id: account_id.to_string(),
                environment,
                role: Role::Admin,
                secret_hash: Some(hash_secret(&self.api_secret)),
                status: KeyStatus::Live,
                expires_at: None,
            },
            KeyRecord {
                api_key: self.public_key.clone(),
                account_id: account_id.to_string(),
                environment,
                role: Role::Public,
                secret_hash: None,
                status: KeyStatus::Live,
                expires_at: None,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds<'a>(key: &'a str, secret: Option<&'a str>) -> Credentials<'a> {
        Credentials {
            api_key: Some(key),
            api_secret: secret,
        }
    }

    #[test]
    fn secret_keys_need_their_secret() {
        let issued = IssuedKeys::generate(Environment::Live);
        let [admin, public] = issued.records("acc", Environment::Live);
        assert!(issued.api_key.starts_with("ak_live_"));
        assert!(issued.public_key.starts_with("pk_live_"));
        assert_ne!(
            admin.secret_hash.as_deref(),
            Some(issued.api_secret.as_str())
        );
        assert!(verify(
            &admin,
            &creds(&issued.api_key, Some(&issued.api_secret)),
            crate::time::now()
        ));
        assert!(!verify(
            &admin,
            &creds(&issued.api_key, Some("sk_live_wrong")),
            crate::time::now()
        ));
        assert!(!verify(
            &admin,
            &creds(&issued.api_key, None),
            crate::time::now()
        ));
        assert!(verify(
            &public,
            &creds(&issued.public_key, None),
            crate::time::now()
        ));
        assert!(
            !verify(&public, &creds(&issued.api_key, None), crate::time::now()),
            "key must match the record"
        );
    }

    #[test]
    fn key_statuses_are_exactly_draft_live_paused() {
        for (s, status) in [
            ("draft", KeyStatus::Draft),
            ("live", KeyStatus::Live),
            ("paused", KeyStatus::Paused),
        ] {
            assert_eq!(
                serde_json::from_value::<KeyStatus>(serde_json::json!(s)).unwrap(),
                status
            );
        }
        assert!(serde_json::from_value::<KeyStatus>(serde_json::json!("active")).is_err());
    }

    #[test]
    fn only_live_keys_authenticate() {
        let issued = IssuedKeys::generate(Environment::Test);
        for status in [KeyStatus::Draft, KeyStatus::Paused] {
            let [mut admin, mut public] = issued.records("acc", Environment::Test);
            admin.status = status;
            public.status = status;
            assert!(!verify(
                &admin,
                &creds(&issued.api_key, Some(&issued.api_secret)),
                crate::time::now()
            ));
            assert!(!verify(
                &public,
                &creds(&issued.public_key, None),
                crate::time::now()
            ));
        }
    }
}
