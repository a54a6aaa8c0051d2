//! The operator's commands against DynamoDB Local, checked through the real authorizer: what a
//! paused account, a rotated key and a revoked key answer.

use std::process::Command;
use std::time::Duration;

use authorizer::Authorizer;
use domain::api_keys::Credentials;
use serde_json::Value;
use store::Store;
use testkit::{test_endpoint, test_store};

async fn admin(store: &Store, args: &[&str]) -> (bool, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gamify-admin"))
        .args(args)
        .env("DYNAMODB_ENDPOINT", test_endpoint().await)
        .env("TABLE_NAME", store.table())
        .output()
        .expect("run gamify-admin");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let printed = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.success(),
        printed,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Whether the authorizer accepts the credentials (a fresh one: no cached record).
async fn accepted(store: &Store, key: &str, secret: Option<&str>) -> bool {
    let authorizer = Authorizer::new(store.clone(), Duration::ZERO);
    let context = authorizer
        .authenticate(Credentials {
            api_key: Some(key),
            api_secret: secret,
        })
        .await
        .unwrap();
    context.get("accountId").is_some()
}

fn keys(v: &Value) -> (String, String, String) {
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    (s("apiKey"), s("apiSecret"), s("publicKey"))
}

#[tokio::test]
async fn accounts_are_listed_paused_resumed_and_their_keys_rotated_and_revoked() {
    let store = test_store().await;
    let (ok, created, _) = admin(&store, &["create-account", "--name", "Ops Test"]).await;
    assert!(ok);
    let account = created[0]["accountId"].as_str().unwrap().to_string();
    let (key, secret, public) = keys(&created[0]["live"]);
    assert!(accepted(&store, &key, Some(&secret)).await);

    let (ok, listed, _) = admin(&store, &["list-accounts"]).await;
    assert!(ok);
    let mine = listed.iter().find(|a| a["id"] == account.as_str()).unwrap();
    assert_eq!(mine["status"], "live");
    assert_eq!(mine["apiKeys"].as_array().unwrap().len(), 4);

    // Paused: every key answers 401; resumed: they work again.
    let (ok, paused, _) = admin(&store, &["pause-account", "--account", &account]).await;
    assert!(ok);
    assert_eq!(paused[0]["status"], "paused");
    assert!(!accepted(&store, &key, Some(&secret)).await);
    assert!(!accepted(&store, &public, None).await);
    assert!(
        admin(&store, &["resume-account", "--account", &account])
            .await
            .0
    );
    assert!(accepted(&store, &key, Some(&secret)).await);
    assert!(accepted(&store, &public, None).await);

    // Rotated with a grace period: old and new keys both work; with none, the old ones stop.
    let (ok, rotated, _) = admin(
        &store,
        &[
            "rotate-key",
            "--account",
            &account,
            "--env",
            "live",
            "--grace-hours",
            "1",
        ],
    )
    .await;
    assert!(ok);
    let (new_key, new_secret, new_public) = keys(&rotated[0]["keys"]);
    assert!(accepted(&store, &new_key, Some(&new_secret)).await);
    assert!(accepted(&store, &new_public, None).await);
    assert!(
        accepted(&store, &key, Some(&secret)).await,
        "still in its grace period"
    );
    let (ok, _, _) = admin(
        &store,
        &[
            "rotate-key",
            "--account",
            &account,
            "--env",
            "live",
            "--grace-hours",
            "0",
        ],
    )
    .await;
    assert!(ok);
    assert!(!accepted(&store, &key, Some(&secret)).await, "grace over");
    assert!(!accepted(&store, &new_key, Some(&new_secret)).await);
    let (test_key, test_secret, _) = keys(&created[0]["test"]);
    assert!(
        accepted(&store, &test_key, Some(&test_secret)).await,
        "the test environment is untouched"
    );

    // Revoked: 401, and resuming the account does not bring it back.
    let (ok, revoked, _) = admin(&store, &["revoke-key", "--key", &test_key]).await;
    assert!(ok);
    assert_eq!(revoked[0]["status"], "revoked");
    assert!(!accepted(&store, &test_key, Some(&test_secret)).await);
    assert!(
        admin(&store, &["pause-account", "--account", &account])
            .await
            .0
    );
    assert!(
        admin(&store, &["resume-account", "--account", &account])
            .await
            .0
    );
    assert!(!accepted(&store, &test_key, Some(&test_secret)).await);
}

#[tokio::test]
async fn every_command_has_help_and_bad_arguments_are_refused() {
    let store = test_store().await;
    for command in [
        "create-account",
        "list-accounts",
        "rotate-key",
        "revoke-key",
        "pause-account",
        "resume-account",
        "redrive",
        "reconcile",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gamify-admin"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(command),
            "{command}: {text}"
        );
    }
    let (ok, _, said) = admin(
        &store,
        &["rotate-key", "--account", "nope", "--env", "prod"],
    )
    .await;
    assert!(!ok);
    assert!(said.contains("--env must be live or test"), "{said}");
    let (ok, _, said) = admin(&store, &["pause-account", "--account", "no-such-account"]).await;
    assert!(!ok);
    assert!(said.contains("no account"), "{said}");
    let (ok, _, said) = admin(&store, &["revoke-key", "--bogus", "x"]).await;
    assert!(!ok && said.contains("unknown argument"), "{said}");
}

#[tokio::test]
async fn redrive_and_reconcile_run_against_the_local_store() {
    let store = test_store().await;
    let empty = std::env::temp_dir().join(format!("gamify-none-{}.jsonl", uuid::Uuid::now_v7()));
    let (ok, printed, said) = admin(&store, &["redrive", "--file", empty.to_str().unwrap()]).await;
    assert!(ok, "{said}");
    assert_eq!(
        (
            printed[0]["redriven"].as_u64(),
            printed[0]["stillFailing"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let (ok, created, _) = admin(&store, &["create-account", "--name", "Reconciled"]).await;
    assert!(ok);
    let account = created[0]["accountId"].as_str().unwrap();
    let (ok, printed, said) = admin(&store, &["reconcile", "--account", account]).await;
    assert!(ok, "{said}");
    assert_eq!(
        printed[0],
        serde_json::json!({"members": 0, "logs": 0, "failed": 0})
    );
    let (ok, _, said) = admin(
        &store,
        &["reconcile", "--account", account, "--member", "nobody"],
    )
    .await;
    assert!(!ok && said.contains("nobody"), "{said}");
}

#[tokio::test]
async fn reshard_lists_moves_items_listed_before_sharding_into_their_shards() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use domain::tenant::{Environment, Tenant};
    let store = test_store().await;
    let tenant = Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live);
    let input =
        serde_json::from_value(serde_json::json!({"externalId": "old", "status": "live"})).unwrap();
    let member = app::members::create(&store, &tenant, input, domain::time::now())
        .await
        .unwrap();
    let listed = |store: Store, tenant: Tenant| async move {
        let (members, _) = store
            .list_members(&tenant, &store::MemberFilter::default(), 20, None)
            .await
            .unwrap();
        members.len()
    };
    assert_eq!(listed(store.clone(), tenant.clone()).await, 1);
    // As the member was listed before the lists were sharded.
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "PK",
            AttributeValue::S(format!("{}#EXT#old", tenant.key_prefix())),
        )
        .key("SK", AttributeValue::S("MEMBER".into()))
        .update_expression("SET GSI1PK = :old")
        .expression_attribute_values(
            ":old",
            AttributeValue::S(format!("{}#MEMBERS", tenant.key_prefix())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed(store.clone(), tenant.clone()).await,
        0,
        "not in any shard"
    );

    let (ok, printed, stderr) = admin(&store, &["reshard-lists"]).await;
    assert!(ok, "{stderr}");
    assert!(printed[0]["moved"].as_u64().unwrap() >= 1, "{printed:?}");
    assert_eq!(
        listed(store.clone(), tenant.clone()).await,
        1,
        "listed again"
    );
    let (_, again, _) = admin(&store, &["reshard-lists"]).await;
    assert_eq!(again[0]["moved"], 0, "nothing left to move");
    let found = app::members::resolve(&store, &tenant, &member.id).await;
    assert!(found.is_ok());
}
