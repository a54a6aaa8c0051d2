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
