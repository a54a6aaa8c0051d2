//! Tokens minted with the secret itself verify against the stored hash; every way a token can be
//! wrong is refused.

use chrono::Duration;

use super::*;
use crate::api_keys::IssuedKeys;
use crate::tenant::Environment;

struct Keys {
    issued: IssuedKeys,
    admin: KeyRecord,
}

fn keys() -> Keys {
    let issued = IssuedKeys::generate(Environment::Live);
    let [admin, _public] = issued.records("acct-1", Environment::Live);
    Keys { issued, admin }
}

fn now() -> Timestamp {
    "2026-12-03T10:00:00Z".parse().unwrap()
}

fn token(k: &Keys, account: &str, issued_at: Timestamp, lifetime: i64) -> String {
    mint(
        &k.issued.api_key,
        &k.issued.api_secret,
        account,
        "user_1",
        issued_at,
        lifetime,
    )
}

fn check(k: &Keys, token: &str, header: &str, at: Timestamp) -> Option<EndUser> {
    verify(&parse(token)?, &k.admin, header, at)
}

#[test]
fn a_token_signed_with_the_secret_verifies_against_its_stored_hash() {
    let k = keys();
    assert!(can_sign_tokens(&k.issued.api_secret));
    let t = token(&k, "acct-1", now(), 900);
    let user = check(&k, &t, "acct-1", now() + Duration::minutes(5)).expect("valid");
    assert_eq!(user.external_id, "user_1");
    assert_eq!(user.tenant, Tenant::new("acct-1", Environment::Live));
}

#[test]
fn expired_early_or_too_long_lived_tokens_are_refused() {
    let k = keys();
    let t = token(&k, "acct-1", now(), 900);
    assert!(
        check(&k, &t, "acct-1", now() + Duration::seconds(900)).is_none(),
        "at exp"
    );
    assert!(
        check(&k, &t, "acct-1", now() - Duration::minutes(5)).is_none(),
        "iat ahead"
    );
    let long = token(&k, "acct-1", now(), MAX_LIFETIME_SECONDS + 1);
    assert!(
        check(&k, &long, "acct-1", now()).is_none(),
        "over 30 minutes"
    );
    let max = token(&k, "acct-1", now(), MAX_LIFETIME_SECONDS);
    assert!(
        check(&k, &max, "acct-1", now()).is_some(),
        "exactly 30 minutes"
    );
}

#[test]
fn another_secret_account_or_key_state_is_refused() {
    let k = keys();
    let other = keys();
    let forged = mint(
        &k.issued.api_key,
        &other.issued.api_secret,
        "acct-1",
        "user_1",
        now(),
        900,
    );
    assert!(
        check(&k, &forged, "acct-1", now()).is_none(),
        "wrong secret"
    );
    let t = token(&k, "acct-1", now(), 900);
    assert!(
        check(&k, &t, "acct-2", now()).is_none(),
        "x-account-id of another account"
    );
    let other_sub = token(&k, "acct-2", now(), 900);
    assert!(
        check(&k, &other_sub, "acct-2", now()).is_none(),
        "sub of another account"
    );
    let mut paused = k.admin.clone();
    paused.status = KeyStatus::Paused;
    assert!(verify(&parse(&t).unwrap(), &paused, "acct-1", now()).is_none());
    let mut rotated = k.admin.clone();
    rotated.expires_at = Some(now());
    assert!(verify(&parse(&t).unwrap(), &rotated, "acct-1", now()).is_none());
    let [_, public] = k.issued.records("acct-1", Environment::Live);
    let by_public = mint(
        &public.api_key,
        &k.issued.api_secret,
        "acct-1",
        "u",
        now(),
        900,
    );
    assert!(verify(&parse(&by_public).unwrap(), &public, "acct-1", now()).is_none());
}

#[test]
fn tampered_or_malformed_tokens_are_refused() {
    let k = keys();
    let t = token(&k, "acct-1", now(), 900);
    let (head, rest) = t.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let other_user = URL_SAFE_NO_PAD.encode(
        json!({"sub": "acct-1", "exp": now().timestamp() + 900, "userData": {"externalId": "admin"}})
            .to_string(),
    );
    let tampered = format!("{head}.{other_user}.{signature}");
    assert!(check(&k, &tampered, "acct-1", now()).is_none());
    let none_alg = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#);
    assert!(parse(&format!("{none_alg}.{other_user}.")).is_none());
    for bad in ["", "a.b", "a.b.c.d", "....", "not a token"] {
        assert!(parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn secrets_of_64_bytes_or_less_cannot_sign_tokens() {
    // Keys issued before end-user tokens: 56-byte secrets. HMAC uses them as they are, so the
    // stored hash verifies nothing: their tokens are refused until the key is rotated.
    let short = format!("sk_live_{}", "a".repeat(48));
    assert!(!can_sign_tokens(&short));
    let mut k = keys();
    k.admin.secret_hash = Some(crate::api_keys::hash_secret(&short));
    let t = mint(&k.issued.api_key, &short, "acct-1", "user_1", now(), 900);
    assert!(check(&k, &t, "acct-1", now()).is_none());
}
