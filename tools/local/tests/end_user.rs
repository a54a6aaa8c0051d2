//! End-user tokens over HTTP (SPEC §9, docs/DECISIONS.md): a token minted by the documented
//! Python and Node examples reads its own member through `/v1/me…` and `/schema/account_user/…`;
//! another member is 404; expired, forged and other-account tokens are 401; everything else 403.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{call, start};
use domain::end_user::mint;
use serde_json::json;

/// Runs a documented example (`docs/examples/`): `program` is `python3` or `node`.
fn minted_by(program: &str, script: &str, args: [&str; 4]) -> String {
    let path = testkit::repo_root().join("docs/examples").join(script);
    let out = Command::new(program)
        .arg(path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_end_user_token_reads_its_own_member_and_nothing_else() {
    let run = start(None);
    let account = run.demo["accountId"].as_str().unwrap();
    let (key, secret, public) = run.live_keys();
    let admin = run.admin();
    let base = &run.base;
    let members = format!("{base}/schema/account_user/record");
    for fan in ["fan-1", "fan-2"] {
        let body = json!({"externalId": fan, "status": "live"}).to_string();
        assert_eq!(call("POST", &members, &admin, Some(&body)).0, 201);
    }
    let streak = json!({"name": "Daily", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 1, "maxFreezes": 2});
    let (status, streak) = call(
        "POST",
        &format!("{base}/schema/streak/record"),
        &admin,
        Some(&streak.to_string()),
    );
    assert_eq!(status, 201, "{streak}");
    // A freeze granted to fan-1: the end user sees it on its own progress (SPEC §10).
    let grant = json!({"streakId": streak["data"]["id"], "ownedById": "fan-1", "count": 1, "uniqueIdentifier": "fan-1-freeze"});
    let (status, body) = call(
        "POST",
        &format!("{base}/schema/streak_freeze/record"),
        &admin,
        Some(&grant.to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let log = json!({"streakId": streak["data"]["id"], "ownedById": "fan-1", "activityAt": domain::time::format(&domain::time::now()), "activityValue": 1});
    let (status, body) = call(
        "POST",
        &format!("{base}/schema/streak_log/record"),
        &admin,
        Some(&log.to_string()),
    );
    assert_eq!(status, 201, "{body}");

    let python = minted_by(
        "python3",
        "enduser_token.py",
        [key, secret, account, "fan-1"],
    );
    let node = minted_by("node", "enduser-token.mjs", [key, secret, account, "fan-1"]);
    let as_user = |token: &str, path: &str| {
        call(
            "GET",
            &format!("{base}{path}"),
            &[("x-enduser-access-token", token), ("x-account-id", account)],
            None,
        )
    };

    for token in [&python, &node] {
        let (status, me) = as_user(token, "/v1/me");
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["data"]["externalId"], "fan-1");
        let (status, same) = as_user(token, "/schema/account_user/record/fan-1");
        assert_eq!((status, &same["data"]["id"]), (200, &me["data"]["id"]));
        let by_id = format!(
            "/schema/account_user/record/{}",
            me["data"]["id"].as_str().unwrap()
        );
        assert_eq!(as_user(token, &by_id).0, 200);
    }

    // Its progress arrives once the stream is processed; rewards and challenges are lists too.
    let started = Instant::now();
    let progress = loop {
        let (status, list) = as_user(&python, "/v1/me/streak_progress");
        assert_eq!(status, 200, "{list}");
        if list["data"].as_array().is_some_and(|d| !d.is_empty()) {
            break list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no progress: {list}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(progress["data"][0]["freezesAvailable"], 1, "{progress}");
    assert_eq!(progress["data"][0]["freezesUsed"], 0, "{progress}");
    assert_eq!(
        progress["data"][0]["currentProgressValue"],
        json!(1),
        "{progress}"
    );
    for path in ["/v1/me/challenge_progress", "/v1/me/reward_log"] {
        let (status, list) = as_user(&python, path);
        assert_eq!(status, 200, "{path}: {list}");
        assert_eq!(list["data"], json!([]), "{path}");
    }
    let (status, same) = as_user(&python, "/schema/account_user/record/fan-1/streak_progress");
    assert_eq!((status, &same["data"]), (200, &progress["data"]));

    // Another member does not exist for this token: 404, as an unknown id.
    for path in [
        "/schema/account_user/record/fan-2",
        "/schema/account_user/record/fan-2/streak_progress",
        "/schema/account_user/record/fan-2/reward_log",
    ] {
        let (status, body) = as_user(&python, path);
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Logs, lists, writes, programs, track-user: not an end user's.
    for (method, path) in [
        ("GET", "/schema/account_user/record/fan-1/streak_log"),
        ("GET", "/schema/account_user/record"),
        ("GET", "/schema/streak/record"),
        ("GET", "/schema/streak_progress/record"),
        ("GET", "/schema/streak_freeze/record"),
        ("POST", "/schema/streak_freeze/record"),
        ("DELETE", "/schema/account_user/record/fan-1"),
        ("POST", "/v1/user-journeys/users"),
    ] {
        let (status, body) = call(
            method,
            &format!("{base}{path}"),
            &[
                ("x-enduser-access-token", &python),
                ("x-account-id", account),
                ("content-type", "application/json"),
            ],
            Some(r#"{"externalId": "fan-1"}"#),
        );
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    // API keys have no "me".
    let (status, body) = call("GET", &format!("{base}/v1/me"), &admin, None);
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        call(
            "GET",
            &format!("{base}/v1/me"),
            &[("x-api-key", public)],
            None
        )
        .0,
        403
    );

    // Refused tokens: 401, nothing read.
    let now = domain::time::now();
    let expired = mint(
        key,
        secret,
        account,
        "fan-1",
        now - chrono::Duration::hours(1),
        900,
    );
    let too_long = mint(key, secret, account, "fan-1", now, 3600);
    let forged = mint(key, "sk_live_guessed", account, "fan-1", now, 900);
    let other_account = mint(key, secret, "another-account", "fan-1", now, 900);
    let by_public_key = mint(public, secret, account, "fan-1", now, 900);
    let test = &run.demo["test"];
    let test_key = test["apiKey"].as_str().unwrap();
    let test_env = mint(
        test_key,
        test["apiSecret"].as_str().unwrap(),
        account,
        "fan-1",
        now,
        900,
    );
    for (name, token) in [
        ("expired", &expired),
        ("lives over 30 minutes", &too_long),
        ("wrong signature", &forged),
        ("sub of another account", &other_account),
        ("signed for a public key", &by_public_key),
        ("not a JWT", &"nonsense".to_string()),
    ] {
        let (status, body) = as_user(token, "/v1/me");
        assert_eq!(status, 401, "{name}: {body}");
    }
    let (status, body) = call(
        "GET",
        &format!("{base}/v1/me"),
        &[
            ("x-enduser-access-token", &python),
            ("x-account-id", "another-account"),
        ],
        None,
    );
    assert_eq!(status, 401, "x-account-id of another account: {body}");
    // The test environment is another tenant: its token finds no fan-1 there.
    let (status, body) = as_user(&test_env, "/v1/me");
    assert_eq!(status, 404, "{body}");
}
