//! The authorizer, fed with `events/authorizer/*.json`, against keys stored in DynamoDB Local.

use std::time::Duration;

use app::accounts;
use authorizer::Authorizer;
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use domain::api_keys::{IssuedKeys, KeyStatus};
use domain::tenant::Environment;
use serde_json::{json, Value};
use store::Account;
use testkit::{events, test_store};

fn event(file: &str, headers: &[(&str, &str)]) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut e = events::load(&format!("authorizer/{file}"));
    for (k, v) in headers {
        e["headers"][*k] = json!(v);
    }
    serde_json::from_value(e).expect("an authorizer v2 event")
}

async fn context(auth: &Authorizer, e: ApiGatewayV2CustomAuthorizerV2Request) -> Value {
    let resp = auth.handle(e).await.expect("the authorizer answers");
    assert!(
        resp.is_authorized,
        "the function decides 401/403 from the context"
    );
    resp.context
}

#[tokio::test]
async fn sample_events_resolve_to_their_principal_or_nothing() {
    let store = test_store().await;
    let auth = Authorizer::new(store.clone(), Duration::from_secs(30));
    let account = accounts::create(&store, "Acme").await.unwrap();

    let admin = context(
        &auth,
        event(
            "secret-key.json",
            &[
                ("x-api-key", &account.live.api_key),
                ("x-api-secret", &account.live.api_secret),
            ],
        ),
    )
    .await;
    assert_eq!(
        admin,
        json!({"accountId": account.account_id, "environment": "live", "role": "admin"})
    );

    let public = context(
        &auth,
        event(
            "public-key.json",
            &[("x-api-key", &account.test.public_key)],
        ),
    )
    .await;
    assert_eq!(
        public,
        json!({"accountId": account.account_id, "environment": "test", "role": "public"})
    );

    let nobody = json!({});
    assert_eq!(
        context(&auth, event("no-credentials.json", &[])).await,
        nobody
    );
    // The sample events carry keys that exist nowhere.
    assert_eq!(context(&auth, event("secret-key.json", &[])).await, nobody);
    assert_eq!(context(&auth, event("public-key.json", &[])).await, nobody);
    for (key, secret) in [
        (account.live.api_key.as_str(), "sk_live_wrong"),
        (
            account.live.api_key.as_str(),
            account.test.api_secret.as_str(),
        ),
        (
            account.test.api_key.as_str(),
            account.live.api_secret.as_str(),
        ),
        (account.live.api_key.as_str(), ""),
    ] {
        let ctx = context(
            &auth,
            event(
                "secret-key.json",
                &[("x-api-key", key), ("x-api-secret", secret)],
            ),
        )
        .await;
        assert_eq!(ctx, nobody, "{key} with a wrong secret");
    }
    // A secret key without its secret is not a public key.
    let no_secret = event("public-key.json", &[("x-api-key", &account.live.api_key)]);
    assert_eq!(context(&auth, no_secret).await, nobody);
}

#[tokio::test]
async fn only_live_keys_authenticate() {
    let store = test_store().await;
    let auth = Authorizer::new(store.clone(), Duration::from_secs(30));
    for status in [KeyStatus::Draft, KeyStatus::Paused, KeyStatus::Revoked] {
        let issued = IssuedKeys::generate(Environment::Live);
        let account = Account {
            id: uuid::Uuid::now_v7().to_string(),
            name: "Paused".into(),
            created_at: domain::time::now(),
            status: Default::default(),
            api_keys: Vec::new(),
        };
        let mut records = issued.records(&account.id, Environment::Live);
        for r in &mut records {
            r.status = status;
        }
        store.create_account(&account, &records).await.unwrap();
        let admin = event(
            "secret-key.json",
            &[
                ("x-api-key", &issued.api_key),
                ("x-api-secret", &issued.api_secret),
            ],
        );
        assert_eq!(context(&auth, admin).await, json!({}), "{status:?}");
        let public = event("public-key.json", &[("x-api-key", &issued.public_key)]);
        assert_eq!(context(&auth, public).await, json!({}), "{status:?}");
    }
}

#[tokio::test]
async fn stored_secrets_are_hashes() {
    let store = test_store().await;
    let account = accounts::create(&store, "Hashes").await.unwrap();
    let record = store.get_key(&account.live.api_key).await.unwrap().unwrap();
    let stored = record.secret_hash.unwrap();
    assert_ne!(stored, account.live.api_secret);
    assert!(!stored.contains(&account.live.api_secret));
    assert_eq!(stored.len(), 64, "hex SHA-256");
}
