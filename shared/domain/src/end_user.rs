//! End-user tokens (SPEC §9, Gamopanda compatible): a JWT the customer's backend signs with HS256
//! and its API secret, `kid` = its apiKey, `sub` = its accountId, `userData.externalId` = the
//! member, `exp` at most 30 minutes ahead. An app sends it as `x-enduser-access-token` with
//! `x-account-id` and reads only that member.
//!
//! Secrets stay stored only as hashes: HMAC replaces a key longer than its 64-byte block by the
//! key's SHA-256 (RFC 2104), so for secrets over 64 bytes — every secret issued since end-user
//! tokens exist (72 bytes) — HMAC with the stored hash *is* HMAC with the secret. A shorter,
//! older secret cannot sign tokens: rotating the key issues a long one (docs/DECISIONS.md).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use crate::api_keys::{KeyRecord, KeyStatus};
use crate::tenant::{Role, Tenant};
use crate::time::Timestamp;

/// The longest life a token may have: `exp` at most this far after `iat` and after now.
pub const MAX_LIFETIME_SECONDS: i64 = 30 * 60;
/// Clock skew tolerated between the customer's backend and us.
const SKEW_SECONDS: i64 = 60;
/// HMAC-SHA256's block: longer keys are hashed first.
const HMAC_BLOCK_BYTES: usize = 64;

/// A token's parts before its signature is checked.
#[derive(Debug)]
pub struct UnverifiedToken {
    /// The apiKey that signed it (`kid`): the key record to verify with.
    pub kid: String,
    claims: Claims,
    signing_input: String,
    signature: Vec<u8>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    sub: String,
    exp: i64,
    iat: Option<i64>,
    user_data: UserData,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserData {
    external_id: String,
}

/// The member a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    pub tenant: Tenant,
    pub external_id: String,
}

/// Splits and decodes a token; `None` for anything that is not an HS256 JWT with a `kid` and the
/// claims above.
pub fn parse(token: &str) -> Option<UnverifiedToken> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, claims) = signing_input.split_once('.')?;
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let head: Header = serde_json::from_slice(&decode(header)?).ok()?;
    // Only HS256: a token naming `none` or another algorithm is refused, never "verified".
    if head.alg != "HS256" {
        return None;
    }
    Some(UnverifiedToken {
        kid: head.kid.filter(|k| !k.is_empty())?,
        claims: serde_json::from_slice(&decode(claims)?).ok()?,
        signing_input: signing_input.to_string(),
        signature: decode(signature)?,
    })
}

/// Checks a token against the key record its `kid` names: a live, unexpired secret key of the
/// account `x-account-id` names, a valid signature, and a life of at most 30 minutes.
pub fn verify(
    token: &UnverifiedToken,
    record: &KeyRecord,
    account_id_header: &str,
    now: Timestamp,
) -> Option<EndUser> {
    let usable = record.status == KeyStatus::Live
        && record.role == Role::Admin
        && record.api_key == token.kid
        && record.expires_at.is_none_or(|end| now < end)
        && record.account_id == token.claims.sub
        && record.account_id == account_id_header;
    if !usable {
        return None;
    }
    let key = hex::decode(record.secret_hash.as_deref()?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(token.signing_input.as_bytes());
    mac.verify_slice(&token.signature).ok()?;
    let now = now.timestamp();
    let claims = &token.claims;
    let fresh = claims.exp > now
        && claims.exp <= now + MAX_LIFETIME_SECONDS + SKEW_SECONDS
        && claims.iat.is_none_or(|iat| {
            iat <= now + SKEW_SECONDS && claims.exp - iat <= MAX_LIFETIME_SECONDS
        });
    let external_id = claims.user_data.external_id.clone();
    (fresh && !external_id.is_empty()).then(|| EndUser {
        tenant: Tenant::new(&record.account_id, record.environment),
        external_id,
    })
}

/// Signs a token as a customer's backend does (tests and `gamify-admin mint-token`): HS256 with
/// the API secret itself.
pub fn mint(
    api_key: &str,
    api_secret: &str,
    account_id: &str,
    external_id: &str,
    issued_at: Timestamp,
    lifetime_seconds: i64,
) -> String {
    let encode = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let header = encode(json!({"alg": "HS256", "typ": "JWT", "kid": api_key}));
    let iat = issued_at.timestamp();
    let claims = encode(json!({
        "sub": account_id,
        "iat": iat,
        "exp": iat + lifetime_seconds,
        "userData": {"externalId": external_id},
    }));
    let mut mac =
        Hmac::<Sha256>::new_from_slice(api_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}

/// Whether a secret can sign end-user tokens (see the module's comment).
pub fn can_sign_tokens(api_secret: &str) -> bool {
    api_secret.len() > HMAC_BLOCK_BYTES
}

#[cfg(test)]
mod tests;
