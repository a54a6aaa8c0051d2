//! End to end over HTTP: starts the local run (`gamify-local --in-memory`, its own DynamoDB Local
//! on free ports) and uses it as a client who has read only SPEC.md would.

mod common;

use std::time::{Duration, Instant};

use common::{call, start};

use serde_json::{json, Value};

#[test]
fn a_client_uses_the_local_run_over_http() {
    let run = start(None);
    let (key, secret, public) = run.live_keys();
    let admin = run.admin();
    let members = format!("{}/schema/account_user/record", run.base);

    // 401 without or with wrong credentials, 403 for a public key on an admin route.
    let (status, body) = call("GET", &members, &[], None);
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["requestId"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert_eq!(
        call(
            "GET",
            &members,
            &[("x-api-key", key), ("x-api-secret", "sk_live_nope")],
            None
        )
        .0,
        401
    );
    assert_eq!(call("GET", &members, &[("x-api-key", key)], None).0, 401);
    assert_eq!(call("GET", &members, &[("x-api-key", public)], None).0, 403);

    // The API's own description is served, without credentials.
    let agent = ureq::AgentBuilder::new().build();
    let spec = agent
        .get(&format!("{}/openapi.yaml", run.base))
        .call()
        .unwrap();
    assert_eq!(spec.content_type(), "application/yaml");
    assert!(spec.into_string().unwrap().starts_with("openapi: 3.1"));

    // Create, read, upsert, patch, list, delete.
    let body = json!({"externalId": "cust-1", "status": "live", "email": "c1@example.com", "phoneNumber": "+447911123456"});
    let (status, created) = call("POST", &members, &admin, Some(&body.to_string()));
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        call("POST", &members, &admin, Some(&body.to_string())).0,
        409
    );
    assert_eq!(
        call("GET", &format!("{members}/{id}"), &admin, None).1["data"]["externalId"],
        "cust-1"
    );
    let (status, upserted) = call(
        "POST",
        &format!("{members}?upsert=true"),
        &admin,
        Some(&json!({"externalId": "cust-1", "firstName": "Cee"}).to_string()),
    );
    assert_eq!(status, 200, "{upserted}");
    assert_eq!(upserted["data"]["email"], "c1@example.com");
    let (status, patched) = call(
        "PATCH",
        &format!("{members}/cust-1"),
        &admin,
        Some(r#"{"email":null,"status":"paused"}"#),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["email"], Value::Null);
    let (_, listed) = call(
        "GET",
        &format!("{members}?status=paused&limit=5"),
        &admin,
        None,
    );
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["paging"]["limit"], 5);

    // Track-user with the public key.
    let users = format!("{}/v1/user-journeys/users", run.base);
    let track = json!({"externalId": "user_12345", "displayName": "Jane Doe", "country": "NG", "device": "mobile"});
    let (status, profile) = call(
        "POST",
        &users,
        &[("x-api-key", public), ("content-type", "application/json")],
        Some(&track.to_string()),
    );
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["data"]["environment"], "LIVE");
    assert_eq!(profile["data"]["partnerId"], run.demo["accountId"]);
    assert_eq!(
        call(
            "GET",
            &format!("{users}/user_12345"),
            &[("x-api-key", public)],
            None
        )
        .0,
        200
    );
    let (status, missing) = call(
        "POST",
        &users,
        &[("x-api-key", public), ("content-type", "application/json")],
        Some("{}"),
    );
    assert_eq!(status, 400);
    assert!(missing["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing externalId"));

    // Conventions: 413, 415, 400 invalid JSON, unknown fields, unknown routes.
    let big =
        json!({"externalId": "big", "status": "live", "metadata": {"pad": "x".repeat(70_000)}})
            .to_string();
    assert_eq!(call("POST", &members, &admin, Some(&big)).0, 413);
    assert_eq!(
        call(
            "POST",
            &members,
            &[
                ("x-api-key", key),
                ("x-api-secret", secret),
                ("content-type", "text/plain")
            ],
            Some("{}")
        )
        .0,
        415
    );
    assert_eq!(
        call("POST", &members, &admin, Some("{oops")).1["error"]["code"],
        "invalid_json"
    );
    let (status, typo) = call(
        "POST",
        &members,
        &admin,
        Some(r#"{"externalID":"x","status":"live"}"#),
    );
    assert_eq!(
        (status, typo["error"]["details"][0]["field"].as_str()),
        (400, Some("externalID"))
    );
    assert_eq!(
        call("GET", &format!("{}/nope", run.base), &admin, None).0,
        404
    );

    // The test environment sees nothing of live.
    let test_keys = &run.demo["test"];
    let test_admin = [
        ("x-api-key", test_keys["apiKey"].as_str().unwrap()),
        ("x-api-secret", test_keys["apiSecret"].as_str().unwrap()),
    ];
    assert_eq!(
        call("GET", &format!("{members}/{id}"), &test_admin, None).0,
        404
    );
    assert_eq!(
        call("GET", &members, &test_admin, None).1["data"],
        json!([])
    );

    // A streak, a log with an inline member, and the member's activity.
    let streak = json!({"name": "Daily", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 1});
    let (status, streak) = call(
        "POST",
        &format!("{}/schema/streak/record", run.base),
        &admin,
        Some(&streak.to_string()),
    );
    assert_eq!(status, 201, "{streak}");
    let log = json!({"streakId": streak["data"]["id"], "ownedBy": {"externalId": "runner"}, "activityValue": 1,
        "uniqueIdentifier": "run-1", "activityAt": "2026-11-20T07:00:00Z"});
    let logs_url = format!("{}/schema/streak_log/record", run.base);
    let (status, created) = call("POST", &logs_url, &admin, Some(&log.to_string()));
    assert_eq!(status, 201, "{created}");
    let (status, replay) = call("POST", &logs_url, &admin, Some(&log.to_string()));
    assert_eq!(
        (status, replay["idempotentReplayed"].clone()),
        (200, json!(true))
    );
    let (status, activity) = call("GET", &format!("{members}/runner/streak_log"), &admin, None);
    assert_eq!(status, 200, "{activity}");
    assert_eq!(activity["data"][0]["id"], created["data"]["id"]);

    // The local run's stream processor turns the log into progress on its own.
    let store = store::Store::new(store::Store::local_client(&run.dynamodb), "gamify");
    let tenant = domain::tenant::Tenant::new(
        run.demo["accountId"].as_str().unwrap(),
        domain::tenant::Environment::Live,
    );
    let member_id = created["data"]["ownedById"].as_str().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let progress = loop {
        let records = runtime
            .block_on(store.member_records(&tenant, member_id, "PROGRESS#"))
            .unwrap();
        if !records.is_empty() || started.elapsed() > Duration::from_secs(20) {
            break records;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(progress.len(), 1, "progress from the stream");
    assert_eq!(progress[0]["currentProgressValue"], 1);
    println!(
        "progress visible {} ms after the log's 201",
        started.elapsed().as_millis()
    );

    let (status, deleted) = call("DELETE", &format!("{members}/{id}"), &admin, None);
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(call("GET", &format!("{members}/{id}"), &admin, None).0, 404);
}
