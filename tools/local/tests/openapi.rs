//! `openapi.yaml` against the code: the documented operations are exactly the routes of
//! `template.yaml`, and the examples, run in order against the real authorizer and handlers
//! (DynamoDB Local, the real stream processor), answer the documented status with bodies that
//! match the documented schemas.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::check;
use domain::cursor::CursorCodec;
use domain::tenant::{Environment, Tenant};
use gamify_local::{routes_from_template, Functions, IncomingRequest, Route};
use serde_json::Value;
use serde_yaml::Value as Yaml;
use testkit::stream::StreamPoller;
use testkit::{repo_root, template_path, test_endpoint, test_store};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The operations in the order the examples tell their story; `PROCESS` lets the stream
/// processor catch up (progress is asynchronous).
const PROCESS: &str = "(the stream processor runs)";
const STORY: &[&str] = &[
    "trackUser",
    "getTrackedUser",
    "recordJourneyEvent",
    "trackJourneyEvents",
    "getUserTimeline",
    "createMember",
    "listMembers",
    "getMember",
    "updateMember",
    "createStreak",
    "listStreaks",
    "getStreak",
    "updateStreak",
    "createMilestone",
    "listMilestones",
    "getMilestone",
    "updateMilestone",
    "createChallenge",
    "listChallenges",
    "getChallenge",
    "updateChallenge",
    "createStreakLog",
    "listStreakLogs",
    "getStreakLog",
    "createStreakFreeze",
    "listStreakFreezes",
    "getStreakFreeze",
    "createLeaderboard",
    "listLeaderboards",
    "getLeaderboard",
    "updateLeaderboard",
    "createPointsEntry",
    "listPointsEntries",
    "getPointsEntry",
    "createChallengeLog",
    "listChallengeLogs",
    "getChallengeLog",
    PROCESS,
    "getRankings",
    "getMemberRank",
    "listStreakProgress",
    "getStreakProgress",
    "listChallengeProgress",
    "getChallengeProgress",
    "listRewards",
    "getReward",
    "updateReward",
    "listMemberStreakProgress",
    "listMemberChallengeProgress",
    "listMemberStreakLogs",
    "listMemberChallengeLogs",
    "listMemberRewards",
    "createWebhookEndpoint",
    "listWebhookEndpoints",
    "getWebhookEndpoint",
    "updateWebhookEndpoint",
    "rotateWebhookSecret",
    "testWebhookEndpoint",
    "listWebhookDeliveries",
    "replayWebhookDelivery",
    "getMe",
    "listMyStreakProgress",
    "listMyChallengeProgress",
    "listMyRewards",
    "getMyRank",
    "deleteWebhookEndpoint",
    "deleteLeaderboard",
    "deleteMilestone",
    "deleteChallenge",
    "deleteStreak",
    "deleteMember",
];

/// The document twice: YAML keeps the order of examples, JSON is what schemas validate.
fn document() -> (Yaml, Value) {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).unwrap();
    let yaml: Yaml = serde_yaml::from_str(&text).unwrap();
    let json: Value = serde_yaml::from_str(&text).unwrap();
    (yaml, json)
}

/// Every documented operation: (method, path, operationId).
fn operations(doc: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let id = op["operationId"].as_str().unwrap_or("(no operationId)");
                out.push((method.to_uppercase(), path.clone(), id.to_string()));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => resolve(doc, doc.pointer(reference.trim_start_matches('#')).unwrap()),
        None => value,
    }
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let (_, doc) = document();
    // The API is every authorized route; the console's page and modules are not part of it.
    let routed: BTreeSet<String> = routes_from_template(&template_path())
        .unwrap()
        .iter()
        .filter(|r| !r.is_default() && r.authorized)
        .map(Route::route_key)
        .collect();
    let documented: BTreeSet<String> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed but not documented: {undocumented:?}; documented but not routed: {unrouted:?}"
    );
    let ids: Vec<String> = operations(&doc).into_iter().map(|(_, _, id)| id).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "operationIds are unique");
    let story: BTreeSet<&str> = STORY.iter().copied().filter(|s| *s != PROCESS).collect();
    let all: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(story, all, "the example story runs every operation once");
}

#[test]
fn documented_response_examples_match_their_schemas() {
    let (_, doc) = document();
    let mut checked = 0;
    for (method, path, id) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        for (code, response) in op["responses"].as_object().unwrap() {
            let response = resolve(&doc, response);
            let content = &response["content"]["application/json"];
            if let Some(example) = content.get("example") {
                check(
                    &doc,
                    &content["schema"],
                    example,
                    &format!("{id} {code} example"),
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} response examples");
}

/// Replaces the example ids the story has seen come back as real ones.
fn substitute(value: &Value, ids: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, ids)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), substitute(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A record id: a UUID, or a webhook event id (`msg_…`).
fn looks_like_id(s: &str) -> bool {
    (s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4) || s.starts_with("msg_")
}

/// Walks the documented example and the real answer side by side; where both hold a (different)
/// UUID, the example's id stands for the real one from now on.
fn learn_ids(documented: &Value, real: &Value, ids: &mut HashMap<String, String>) {
    match (documented, real) {
        (Value::String(d), Value::String(r)) if looks_like_id(d) && looks_like_id(r) => {
            ids.entry(d.clone()).or_insert_with(|| r.clone());
        }
        (Value::Array(d), Value::Array(r)) => {
            d.iter().zip(r).for_each(|(d, r)| learn_ids(d, r, ids));
        }
        (Value::Object(d), Value::Object(r)) => {
            for (k, v) in d {
                if let Some(rv) = r.get(k) {
                    learn_ids(v, rv, ids);
                }
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_examples_run_against_the_handlers() {
    let (yaml, doc) = document();
    let store = test_store().await;
    let account = app::accounts::create(&store, "OpenAPI story")
        .await
        .unwrap();
    let functions = Functions::new(store.clone(), CursorCodec::from_env(), Duration::ZERO);
    let routes = routes_from_template(&template_path()).unwrap();
    let mut poller = StreamPoller::new(&store, &test_endpoint().await)
        .await
        .unwrap();
    let processor = progress::Processor::new(store.clone());
    let tenant = Tenant::new(account.account_id.clone(), Environment::Live);
    let headers = vec![
        ("x-api-key".to_string(), account.live.api_key.clone()),
        ("x-api-secret".to_string(), account.live.api_secret.clone()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    // `/v1/me…` is read with an end-user token for the member `createMember`'s example creates.
    let token = domain::end_user::mint(
        &account.live.api_key,
        &account.live.api_secret,
        &account.account_id,
        "user_67890",
        domain::time::now(),
        900,
    );
    let end_user_headers = vec![
        ("x-enduser-access-token".to_string(), token),
        ("x-account-id".to_string(), account.account_id.clone()),
    ];
    let ops = operations(&doc);
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut requests = 0;

    for step in STORY {
        if *step == PROCESS {
            let prefix = format!("{}#", tenant.key_prefix());
            loop {
                let mut batch = poller.poll().await.unwrap();
                if batch.records.is_empty() {
                    break;
                }
                batch.records.retain(|r| {
                    serde_json::to_value(&r.change.keys["PK"]).unwrap()["S"]
                        .as_str()
                        .is_some_and(|pk| pk.starts_with(&prefix))
                });
                assert!(processor.handle(batch).await.batch_item_failures.is_empty());
            }
            continue;
        }
        let (method, path, _) = ops.iter().find(|(_, _, id)| id == step).unwrap();
        let item = &doc["paths"][path];
        let op = &item[method.to_lowercase()];
        // Parameters of the path item and of the operation, with their examples.
        let mut concrete_path = path.clone();
        let mut query = Vec::new();
        for param in [&item["parameters"], &op["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
        {
            let param = resolve(&doc, param);
            let Some(example) = param.get("example") else {
                continue;
            };
            let value = substitute(example, &ids);
            let text = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = param["name"].as_str().unwrap();
            match param["in"].as_str() {
                Some("path") => {
                    concrete_path = concrete_path.replace(&format!("{{{name}}}"), &text)
                }
                Some("query") => query.push(format!("{name}={text}")),
                _ => {}
            }
        }
        assert!(
            !concrete_path.contains('{'),
            "{step}: a path parameter has no example"
        );

        // One request per request example, in the document's order; none for a bodiless route.
        let body_doc = &op["requestBody"]["content"]["application/json"];
        let yaml_examples = &yaml["paths"][path.as_str()][method.to_lowercase().as_str()]
            ["requestBody"]["content"]["application/json"]["examples"];
        // Bad input that breaks the schema is kept apart (`x-invalid-examples`, linters check
        // every example against the schema); it runs after the valid examples.
        let yaml_invalid = &yaml["paths"][path.as_str()][method.to_lowercase().as_str()]
            ["requestBody"]["content"]["application/json"]["x-invalid-examples"];
        let mut examples: Vec<(String, Value, Option<u16>)> = Vec::new();
        let both = yaml_examples.as_mapping().map(|valid| {
            valid
                .iter()
                .chain(yaml_invalid.as_mapping().into_iter().flatten())
        });
        if let Some(mapping) = both {
            for (name, example) in mapping {
                let name = name.as_str().unwrap().to_string();
                let value: Value = serde_json::to_value(&example["value"]).unwrap();
                let status = example["x-status"].as_u64().map(|s| s as u16);
                examples.push((name, value, status));
            }
        } else {
            examples.push(("(no body)".into(), Value::Null, None));
        }
        assert!(
            !(op.get("requestBody").is_some() && examples[0].0 == "(no body)"),
            "{step}: the request body has no examples"
        );
        // Without `x-status`, an example expects the first success the operation documents.
        let success = yaml["paths"][path.as_str()][method.to_lowercase().as_str()]["responses"]
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(|c| c.as_str())
            .find(|c| c.starts_with('2'))
            .unwrap()
            .parse::<u16>()
            .unwrap();

        for (name, example, status) in examples {
            let expected = status.unwrap_or(success);
            if expected < 300 && !example.is_null() {
                check(
                    &doc,
                    &body_doc["schema"],
                    &example,
                    &format!("{step} {name} request"),
                );
            }
            let body = substitute(&example, &ids);
            let reply = functions
                .dispatch(
                    &routes,
                    &IncomingRequest {
                        method: method.clone(),
                        path: concrete_path.clone(),
                        raw_query: query.join("&"),
                        headers: if op["security"][0].get("endUserToken").is_some() {
                            end_user_headers.clone()
                        } else {
                            headers.clone()
                        },
                        body: if body.is_null() {
                            Vec::new()
                        } else {
                            body.to_string().into_bytes()
                        },
                        source_ip: "127.0.0.1".into(),
                    },
                )
                .await;
            requests += 1;
            let answer: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            assert_eq!(
                reply.status,
                expected,
                "{step} ({name}): {method} {concrete_path}?{} answered {answer}",
                query.join("&")
            );
            let response = resolve(&doc, &op["responses"][expected.to_string()]);
            let content = &response["content"]["application/json"];
            check(
                &doc,
                &content["schema"],
                &answer,
                &format!("{step} ({name}) answer"),
            );
            if let Some(documented) = content.get("example") {
                let listed = |v: &Value| v["data"].as_array().map(Vec::len);
                assert!(
                    listed(documented) != Some(1) || listed(&answer) == Some(1),
                    "{step}: the story's list holds one record, as documented: {answer}"
                );
                learn_ids(documented, &answer, &mut ids);
            }
        }
    }
    assert!(requests > STORY.len(), "{requests} requests");
}
