//! `gamify-admin create-account` against DynamoDB Local: prints one JSON object whose keys work.

use std::process::Command;

use domain::api_keys::{self, Credentials};
use domain::tenant::{Environment, Role};
use serde_json::Value;
use testkit::{test_endpoint, test_store};

#[tokio::test]
async fn prints_working_live_and_test_keys() {
    let store = test_store().await;
    let out = Command::new(env!("CARGO_BIN_EXE_gamify-admin"))
        .args(["create-account", "--name", "Acme Coffee"])
        .env("DYNAMODB_ENDPOINT", test_endpoint().await)
        .env("TABLE_NAME", store.table())
        .output()
        .expect("run gamify-admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "one JSON object: {stdout}"
    );
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    let account_id = printed["accountId"].as_str().unwrap();
    assert_eq!(
        store.get_account(account_id).await.unwrap().unwrap().name,
        "Acme Coffee"
    );

    for (env, environment) in [("live", Environment::Live), ("test", Environment::Test)] {
        let keys = &printed[env];
        let api_key = keys["apiKey"].as_str().unwrap();
        let secret = keys["apiSecret"].as_str().unwrap();
        let public = keys["publicKey"].as_str().unwrap();
        assert!(public.starts_with(&format!("pk_{env}_")), "{public}");
        let record = store.get_key(api_key).await.unwrap().unwrap();
        assert_eq!(
            (record.account_id.as_str(), record.environment, record.role),
            (account_id, environment, Role::Admin)
        );
        assert!(api_keys::verify(
            &record,
            &Credentials {
                api_key: Some(api_key),
                api_secret: Some(secret)
            },
            domain::time::now()
        ));
        let public_record = store.get_key(public).await.unwrap().unwrap();
        assert_eq!(public_record.role, Role::Public);
        assert!(api_keys::verify(
            &public_record,
            &Credentials {
                api_key: Some(public),
                api_secret: None
            },
            domain::time::now()
        ));
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![],
        vec!["create-account"],
        vec!["create-account", "--name", " "],
        vec!["delete-everything"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gamify-admin"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
    }
}

/// `mint-token` signs as a customer's backend does; the token verifies against the key record
/// create-account stored (which holds only the secret's hash).
#[tokio::test]
async fn mint_token_signs_end_user_tokens_the_stored_key_verifies() {
    let store = test_store().await;
    let admin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gamify-admin"))
            .args(args)
            .env("TABLE_NAME", store.table())
            .output()
            .expect("run gamify-admin")
    };
    let endpoint = test_endpoint().await;
    let out = Command::new(env!("CARGO_BIN_EXE_gamify-admin"))
        .args(["create-account", "--name", "Tokens"])
        .env("DYNAMODB_ENDPOINT", &endpoint)
        .env("TABLE_NAME", store.table())
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let account = printed["accountId"].as_str().unwrap();
    let (key, secret) = (
        printed["live"]["apiKey"].as_str().unwrap(),
        printed["live"]["apiSecret"].as_str().unwrap(),
    );
    let mint = |secret: &str, external_id: &str, minutes: &str| {
        admin(&[
            "mint-token",
            "--api-key",
            key,
            "--api-secret",
            secret,
            "--account",
            account,
            "--external-id",
            external_id,
            "--minutes",
            minutes,
        ])
    };
    let out = mint(secret, "user_7", "5");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let record = store.get_key(key).await.unwrap().unwrap();
    let parsed = domain::end_user::parse(token.trim()).expect("a JWT");
    let user = domain::end_user::verify(&parsed, &record, account, domain::time::now())
        .expect("verifies against the stored hash");
    assert_eq!(user.external_id, "user_7");

    let too_long = mint(secret, "u", "31");
    assert!(!too_long.status.success());
    let old_secret = mint(
        "sk_live_0123456789abcdef0123456789abcdef0123456789abcdef",
        "u",
        "15",
    );
    assert!(!old_secret.status.success());
    assert!(String::from_utf8_lossy(&old_secret.stderr).contains("rotate-key"));
}
