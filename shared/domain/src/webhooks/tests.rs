//! Endpoint rules, SSRF refusals and the Standard Webhooks signature (checked against the
//! specification's own example; the Python library checks our deliveries in tools/local).

use super::*;

fn input(json: serde_json::Value) -> EndpointInput {
    serde_json::from_value(json).unwrap()
}

fn now() -> Timestamp {
    "2026-12-03T10:00:00Z".parse().unwrap()
}

#[test]
fn the_signature_is_the_standard_webhooks_example() {
    // The example of the Standard Webhooks specification (and of its reference libraries).
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let body = r#"{"test": 2432232314}"#;
    assert_eq!(
        signature(&[secret], id, 1614265330, body),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn a_rotated_secret_signs_beside_the_new_one_for_its_grace() {
    let mut e = Endpoint::new(
        "e1".into(),
        input(serde_json::json!({"url": "https://example.com/h"})),
        now(),
    );
    let first = e.secret.clone();
    assert!(first.starts_with("whsec_"));
    e.rotate_secret(now(), chrono::Duration::hours(24));
    assert_ne!(e.secret, first);
    assert_eq!(
        e.signing_secrets(now()),
        vec![e.secret.as_str(), first.as_str()]
    );
    let later = now() + chrono::Duration::hours(24);
    assert_eq!(e.signing_secrets(later), vec![e.secret.as_str()]);
    let both = signature(&e.signing_secrets(now()), "msg_1", 1, "{}");
    assert_eq!(both.split(' ').count(), 2, "{both}");
    let record = e.to_record();
    assert!(record.get("secret").is_none() && record.get("previousSecret").is_none());
}

#[test]
fn urls_must_be_public_https_unless_the_local_run_allows_private_ones() {
    let public = UrlPolicy::PublicHttps;
    assert!(check_url("https://hooks.example.com/gamify", public).is_ok());
    for bad in [
        "http://hooks.example.com/gamify",
        "https://127.0.0.1/h",
        "https://localhost:8080/h",
        "https://10.0.0.5/h",
        "https://192.168.1.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://[fd00::1]/h",
        "https://[::ffff:10.0.0.1]/h",
        "https://100.64.0.1/h",
        "https://metadata.google.internal/h",
        "https://user:pass@example.com/h",
        "ftp://example.com/h",
        "not a url",
    ] {
        assert!(check_url(bad, public).is_err(), "{bad}");
    }
    let local = UrlPolicy::AllowPrivate;
    assert!(check_url("http://127.0.0.1:9000/h", local).is_ok());
    assert!(check_url("ftp://127.0.0.1/h", local).is_err());
}

#[test]
fn inputs_name_every_broken_field() {
    let bad = input(
        serde_json::json!({"url": "http://example.com", "events": ["reward_log.created", "nope"], "status": null}),
    );
    let Err(ApiError::Validation(errors)) = bad.validate(true, UrlPolicy::PublicHttps) else {
        panic!("invalid");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["url", "events", "status"]);
    let missing = input(serde_json::json!({"description": "x"}));
    assert!(missing.validate(true, UrlPolicy::PublicHttps).is_err());
    assert!(missing.validate(false, UrlPolicy::PublicHttps).is_ok());
    assert!(serde_json::from_value::<EndpointInput>(serde_json::json!({"secret": "x"})).is_err());
}

#[test]
fn an_endpoint_takes_the_events_it_subscribed_to_while_enabled() {
    let mut e = Endpoint::new(
        "e1".into(),
        input(serde_json::json!({"url": "https://example.com/h", "events": ["member.created"]})),
        now(),
    );
    assert!(e.wants("member.created") && !e.wants("member.deleted"));
    e.apply(input(serde_json::json!({"events": null})), now());
    assert!(e.wants("member.deleted"), "no filter: every type");
    e.apply(input(serde_json::json!({"status": "disabled"})), now());
    assert!(!e.wants("member.created"));
}
