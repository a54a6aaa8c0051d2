//! Limits and browsers, over HTTP against the local run: per-key rate limits answer 429 with
//! Retry-After and store nothing; CORS preflights and headers for the public-key routes.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{call, start_with, try_request, Answer};
use serde_json::json;

fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    try_request(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_public_key_over_its_rate_limit_gets_429_with_retry_after_and_stores_nothing() {
    let run = start_with(
        None,
        &[("RATE_LIMIT_PUBLIC", "1/3"), ("RATE_LIMIT_SECRET", "off")],
        Stdio::null(),
    );
    let live = &run.demo["live"];
    let public = live["publicKey"].as_str().unwrap();
    let admin = [
        ("x-api-key", live["apiKey"].as_str().unwrap()),
        ("x-api-secret", live["apiSecret"].as_str().unwrap()),
    ];
    let users = format!("{}/v1/user-journeys/users", run.base);
    let as_app = [("x-api-key", public), ("content-type", "application/json")];
    for n in 0..3 {
        let body = json!({"externalId": format!("app-user-{n}")}).to_string();
        let (status, _, answer) = request("POST", &users, &as_app, Some(&body));
        assert_eq!(status, 200, "within the burst: {answer}");
    }
    let body = json!({"externalId": "app-user-3"}).to_string();
    let (status, headers, answer) = request("POST", &users, &as_app, Some(&body));
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
    assert!(answer["error"]["requestId"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let retry_after: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Nothing was stored; the secret key has its own (here unlimited) budget.
    let (status, answer) = call("GET", &format!("{users}/app-user-3"), &admin, None);
    assert_eq!(status, 404, "{answer}");
    for _ in 0..50 {
        assert_eq!(
            call("GET", &format!("{users}/app-user-0"), &admin, None).0,
            200
        );
    }
    // After Retry-After, the key works again.
    std::thread::sleep(Duration::from_secs(retry_after));
    let (status, _, answer) = request("POST", &users, &as_app, Some(&body));
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn browsers_get_cors_preflights_and_headers_on_the_public_routes() {
    let run = start_with(None, &[], Stdio::null());
    let public = run.demo["live"]["publicKey"].as_str().unwrap();
    let users = format!("{}/v1/user-journeys/users", run.base);
    let (status, headers, _) = request(
        "OPTIONS",
        &users,
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type,x-api-key"),
        ],
        None,
    );
    assert_eq!(status, 204);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    let allowed = header(&headers, "access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("x-api-key") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        !allowed.contains("x-api-secret"),
        "secret keys stay out of browsers"
    );
    assert!(header(&headers, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));

    let body = json!({"externalId": "browser-user"}).to_string();
    let (status, headers, answer) = request(
        "POST",
        &users,
        &[
            ("origin", "https://app.example.com"),
            ("x-api-key", public),
            ("content-type", "application/json"),
        ],
        Some(&body),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert!(header(&headers, "access-control-expose-headers")
        .unwrap()
        .contains("retry-after"));
}
