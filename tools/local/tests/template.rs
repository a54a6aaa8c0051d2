//! `template.yaml` is the single source of truth: the table the local run creates equals the
//! template's, and every HTTP route of the template reaches a handler that knows it.

use gamify_local::{routes_from_template, Functions, IncomingRequest};
use serde_json::Value;
use store::Store;
use testkit::{template_path, test_store, TableSpec};

#[tokio::test]
async fn the_created_table_is_the_template_table() {
    let store = test_store().await;
    let mut declared = TableSpec::from_template(&template_path()).unwrap();
    let mut created = TableSpec::describe(store.client(), store.table())
        .await
        .unwrap();
    declared.attributes.sort();
    created.attributes.sort();
    declared.indexes.sort();
    created.indexes.sort();
    assert_eq!(created, declared);
    assert_eq!(
        created.stream_view_type.as_deref(),
        Some("NEW_AND_OLD_IMAGES")
    );
}

#[tokio::test]
async fn every_template_route_is_served_by_its_function() {
    let routes = routes_from_template(&template_path()).unwrap();
    assert_eq!(routes.len(), 73, "{routes:#?}");
    let store = test_store().await;
    let account = app::accounts::create(&store, "Routes").await.unwrap();
    std::env::set_var("TABLE_NAME", store.table());
    std::env::set_var("DYNAMODB_ENDPOINT", testkit::test_endpoint().await);
    let functions = Functions {
        members: members::App::from_env().await,
        programs: programs::App::from_env().await,
        log_streak: logs::App::from_env(domain::log::LogKind::Streak).await,
        log_challenge: logs::App::from_env(domain::log::LogKind::Challenge).await,
        progress_reads: progress_reads::App::from_env().await,
        track_user: track_user::App::from_env().await,
        webhooks: webhooks::App::from_env().await,
        console: console::App,
        points: points::App::from_env().await,
        leaderboards: leaderboards::App::from_env().await,
        authorizer: authorizer::Authorizer::new(
            Store::from_env().await,
            std::time::Duration::from_secs(1),
        ),
    };
    for route in routes.iter().filter(|r| !r.is_default()) {
        assert!(
            functions.function(&route.binary).is_some(),
            "{}",
            route.binary
        );
        let path = route
            .path
            .replace("{id}", "nobody")
            .replace("{externalId}", "nobody")
            .replace("{deliveryId}", "nobody")
            .replace("{memberId}", "nobody")
            .replace("{asset}", "console.js");
        let reply = functions
            .dispatch(
                &routes,
                &IncomingRequest {
                    method: route.method.clone(),
                    path,
                    raw_query: String::new(),
                    headers: vec![
                        ("x-api-key".into(), account.live.api_key.clone()),
                        ("x-api-secret".into(), account.live.api_secret.clone()),
                        ("content-type".into(), "application/json".into()),
                    ],
                    body: b"{}".to_vec(),
                    source_ip: "127.0.0.1".into(),
                },
            )
            .await;
        if !route.authorized {
            // The console's page and modules: served, not JSON.
            assert_eq!(reply.status, 200, "{}", route.route_key());
            continue;
        }
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_ne!(
            body["error"]["message"],
            "No such route.",
            "{} is routed but not handled",
            route.route_key()
        );
        assert!(reply.status < 500, "{}: {body}", route.route_key());
    }
}

#[test]
fn the_routes_the_functions_know_are_the_templates() {
    let declared: Vec<String> = routes_from_template(&template_path())
        .unwrap()
        .iter()
        .filter(|r| !r.is_default())
        .map(|r| r.route_key())
        .collect();
    assert_eq!(declared, app::http::ROUTES);
    assert_eq!(
        routes_from_template(&template_path())
            .unwrap()
            .iter()
            .filter(|r| r.is_default())
            .count(),
        1,
        "one catch-all route"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_error_envelope() {
    let routes = routes_from_template(&template_path()).unwrap();
    let store = test_store().await;
    let functions = Functions::new(
        store,
        domain::cursor::CursorCodec::from_env(),
        std::time::Duration::from_secs(1),
    );
    for (method, path, status, allow) in [
        ("GET", "/nope", 404, None),
        ("GET", "/schema/account_user/record/a/b/c", 404, None),
        ("PUT", "/schema/account_user/record", 405, Some("GET, POST")),
        (
            "POST",
            "/schema/streak/record/abc",
            405,
            Some("GET, PATCH, DELETE"),
        ),
        ("DELETE", "/v1/user-journeys/users", 405, Some("POST")),
    ] {
        let reply = functions
            .dispatch(
                &routes,
                &IncomingRequest {
                    method: method.into(),
                    path: path.into(),
                    raw_query: String::new(),
                    headers: vec![],
                    body: vec![],
                    source_ip: "127.0.0.1".into(),
                },
            )
            .await;
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(reply.status, status, "{method} {path}: {body}");
        assert_eq!(body["status"], "error", "{body}");
        assert!(body["error"]["requestId"]
            .as_str()
            .is_some_and(|r| !r.is_empty()));
        let allowed = reply
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("allow"))
            .map(|(_, v)| v.as_str());
        assert_eq!(allowed, allow, "{method} {path}");
    }
}

/// `make run` keeps its data between starts; a table made before the template gained an index
/// gets the index on the next start.
#[tokio::test]
async fn an_older_local_table_gains_the_templates_new_indexes() {
    let client = Store::local_client(&testkit::test_endpoint().await);
    let table = format!("older-{}", uuid::Uuid::now_v7().simple());
    let current = TableSpec::from_template(&template_path()).unwrap();
    let mut older = current.clone();
    older.indexes.retain(|(name, _, _)| name == "GSI1");
    older
        .attributes
        .retain(|(name, _)| ["PK", "SK", "GSI1PK", "GSI1SK"].contains(&name.as_str()));
    older.ensure(&client, &table).await.unwrap();
    assert_eq!(
        TableSpec::describe(&client, &table)
            .await
            .unwrap()
            .indexes
            .len(),
        1
    );
    current.ensure(&client, &table).await.unwrap();
    let mut names: Vec<_> = TableSpec::describe(&client, &table)
        .await
        .unwrap()
        .indexes
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    names.sort();
    assert_eq!(names, ["GSI1", "GSI2", "GSI3", "GSI4"]);
}

/// `samconfig.toml` sets every parameter of the template, and no other.
#[test]
fn samconfig_sets_the_templates_parameters() {
    let root = testkit::repo_root();
    let samconfig = std::fs::read_to_string(root.join("samconfig.toml")).unwrap();
    let mut set: Vec<String> = samconfig
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.to_string()))
        .collect();
    set.sort();
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap();
    let mut declared: Vec<String> = template["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    declared.sort();
    assert_eq!(set, declared);
}

/// `Idempotency-Key` (app::idempotency) puts, reads, updates and deletes an item: every function
/// that serves a POST must be allowed to, or the header fails on AWS only.
#[test]
fn every_function_with_a_post_route_may_keep_idempotency_keys() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let routes = routes_from_template(&template_path()).unwrap();
    let posting: std::collections::BTreeSet<&str> = routes
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.binary.as_str())
        .collect();
    assert!(posting.len() >= 5, "{posting:?}");
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str();
        let Some(binary) = binary.filter(|b| posting.contains(b)) else {
            continue;
        };
        let allowed = serde_yaml::to_string(&resource["Properties"]["Policies"]).unwrap();
        for action in ["GetItem", "PutItem", "UpdateItem", "DeleteItem"] {
            assert!(
                allowed.contains(&format!("dynamodb:{action}")),
                "{binary} may not {action}"
            );
        }
    }
}

/// Lists read index entries, then the items by key (BatchGetItem): a function allowed to query
/// a list index (GSI1, GSI2) must be allowed to batch-read the table, or its lists fail on AWS
/// only. (The due index, GSI3, is read by the clock sweep, which writes by key and reads nothing.)
#[test]
fn every_function_that_queries_an_index_may_read_the_items_it_points_to() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut checked = 0;
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        let allowed = serde_yaml::to_string(&resource["Properties"]["Policies"]).unwrap();
        if allowed.contains("/index/GSI1") || allowed.contains("/index/GSI2") {
            checked += 1;
            assert!(
                allowed.contains("dynamodb:BatchGetItem"),
                "{binary} may not BatchGetItem"
            );
        }
    }
    assert!(checked >= 6, "{checked}");
}

/// The authorizer guards every route but the console's page and files, which hold no data.
#[test]
fn only_the_consoles_routes_skip_the_authorizer() {
    let routes = routes_from_template(&template_path()).unwrap();
    let open: Vec<String> = routes
        .iter()
        .filter(|r| !r.authorized)
        .map(|r| format!("{} ({})", r.route_key(), r.binary))
        .collect();
    assert_eq!(
        open,
        ["GET /console (console)", "GET /console/{asset} (console)"]
    );
}
