//! Our `webhook-*` headers verify with the Standard Webhooks reference library (PyPI
//! `standardwebhooks`, installed into `.venv` by `scripts/setup.sh --python`, which `make test`
//! runs first): with the current secret, and with the old one during a rotation's grace.

use std::process::Command;

use domain::webhooks::{signature, Endpoint, EndpointInput};

const VERIFY: &str = r#"
import sys, standardwebhooks
secret, msg_id, timestamp, signature, body = sys.argv[1:6]
headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
try:
    standardwebhooks.Webhook(secret).verify(body, headers)
    print("verified")
except standardwebhooks.WebhookVerificationError as e:
    print("refused:", e)
"#;

/// What the reference library says of one delivery's headers.
fn verify(secret: &str, id: &str, timestamp: i64, signature: &str, body: &str) -> String {
    let python = testkit::repo_root().join(".venv/bin/python");
    let out = Command::new(&python)
        .args([
            "-c",
            VERIFY,
            secret,
            id,
            &timestamp.to_string(),
            signature,
            body,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh --python)", python.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_reference_library_verifies_our_signatures() {
    let now = domain::time::now();
    let input: EndpointInput =
        serde_json::from_value(serde_json::json!({"url": "https://example.com/h"})).unwrap();
    let mut endpoint = Endpoint::new("e1".into(), input, now);
    let body = r#"{"type":"reward_log.created","timestamp":"2026-12-03T10:00:00.000Z","data":{"id":"r1","points":50}}"#;
    let id = "msg_2f1e0c4b9a";
    let ts = now.timestamp();
    let signed = signature(&endpoint.signing_secrets(now), id, ts, body);
    assert_eq!(verify(&endpoint.secret, id, ts, &signed, body), "verified");
    // A changed body, id or timestamp, or another secret, is refused.
    assert!(verify(
        &endpoint.secret,
        id,
        ts,
        &signed,
        &body.replace("50", "500")
    )
    .starts_with("refused"));
    assert!(verify(&endpoint.secret, "msg_other", ts, &signed, body).starts_with("refused"));
    let other: Endpoint = Endpoint::new(
        "e2".into(),
        serde_json::from_value(serde_json::json!({"url": "https://example.com/h"})).unwrap(),
        now,
    );
    assert!(verify(&other.secret, id, ts, &signed, body).starts_with("refused"));

    // During a rotation both secrets sign: a receiver still on the old one verifies too.
    let old = endpoint.secret.clone();
    endpoint.rotate_secret(now, chrono::Duration::hours(24));
    let both = signature(&endpoint.signing_secrets(now), id, ts, body);
    assert_eq!(verify(&old, id, ts, &both, body), "verified");
    assert_eq!(verify(&endpoint.secret, id, ts, &both, body), "verified");
}
