//! Member routes refuse what they must (SPEC §1–3): every bad input is a clear 4xx that stores
//! nothing, a store failure is a 500 that shows no internals.

mod common;

use common::*;
use domain::cursor::CursorCodec;
use members::App;
use serde_json::{json, Value};
use store::Store;
use testkit::{events, test_store};

#[tokio::test]
async fn every_bad_input_is_a_clear_4xx_and_stores_nothing() {
    let c = Caller::admin().await;
    let base = || events::load("members/create.json");
    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            events::with_body(base(), "{not json"),
            400,
            "invalid_json",
            "",
        ),
        (events::with_body(base(), "[1,2]"), 400, "invalid_json", ""),
        (
            events::with_body(base(), "\"str\""),
            400,
            "invalid_json",
            "",
        ),
        (events::with_body(base(), ""), 400, "invalid_json", ""),
        (
            events::with_header(base(), "content-type", "text/plain"),
            415,
            "unsupported_media_type",
            "",
        ),
        (
            events::with_body(
                base(),
                &json!({"externalId": "x", "status": "live", "metadata": {"pad": long(70_000)}})
                    .to_string(),
            ),
            413,
            "payload_too_large",
            "",
        ),
    ];
    let field_cases: Vec<(Value, &str)> = vec![
        (
            json!({"externalID": "typo", "status": "live"}),
            "externalID",
        ),
        (json!({"status": "live"}), "externalId"),
        (json!({"externalId": "", "status": "live"}), "externalId"),
        (
            json!({"externalId": long(257), "status": "live"}),
            "externalId",
        ),
        (json!({"externalId": 42, "status": "live"}), "externalId"),
        (json!({"externalId": "x"}), "status"),
        (json!({"externalId": "x", "status": "active"}), "status"),
        (
            json!({"externalId": "x", "status": "live", "firstName": long(257)}),
            "firstName",
        ),
        (
            json!({"externalId": "x", "status": "live", "lastName": long(257)}),
            "lastName",
        ),
        (
            json!({"externalId": "x", "status": "live", "displayName": long(257)}),
            "displayName",
        ),
        (
            json!({"externalId": "x", "status": "live", "source": long(257)}),
            "source",
        ),
        (
            json!({"externalId": "x", "status": "live", "email": "not-an-email"}),
            "email",
        ),
        (
            json!({"externalId": "x", "status": "live", "email": format!("{}@example.com", long(309))}),
            "email",
        ),
        (
            json!({"externalId": "x", "status": "live", "phoneNumber": "(415) 555-2671"}),
            "phoneNumber",
        ),
        (
            json!({"externalId": "x", "status": "live", "phoneNumber": "07911 123456"}),
            "phoneNumber",
        ),
        (
            json!({"externalId": "x", "status": "live", "phoneNumber": "+34 612 345 678"}),
            "phoneNumber",
        ),
        (
            json!({"externalId": "x", "status": "live", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"externalId": "x", "status": "live", "country": "XX"}),
            "country",
        ),
        (
            json!({"externalId": "x", "status": "live", "device": "watch"}),
            "device",
        ),
        (
            json!({"externalId": "x", "status": "live", "tags": {"a": 1}}),
            "tags.a",
        ),
        (
            json!({"externalId": "x", "status": "live", "tags": (0..51).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "tags",
        ),
        (
            json!({"externalId": "x", "status": "live", "metadata": {"pad": long(8200)}}),
            "metadata",
        ),
        (
            json!({"externalId": "x", "status": "live", "metadata": [1]}),
            "metadata",
        ),
    ];
    let mut all = cases;
    for (body, field) in &field_cases {
        all.push((
            events::with_body(base(), &body.to_string()),
            400,
            "validation_failed",
            field,
        ));
    }
    for (event, status, code, field) in all {
        let (got, body) = c.send(event).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["requestId"].as_str().unwrap().is_empty());
        if !field.is_empty() {
            assert_eq!(body["error"]["details"][0]["field"], field, "{body}");
        }
    }
    assert_eq!(
        c.stored_count().await,
        0,
        "no refused request stored anything"
    );

    // The limits themselves are accepted.
    let at_limits = json!({"externalId": long(256), "status": "draft", "firstName": long(256),
        "email": format!("{}@{}.{}.{}.{}", long(64), "b".repeat(63), "b".repeat(63), "b".repeat(63), "b".repeat(63)),
        "phoneNumber": "+123456789012345", "tags": (0..50).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()});
    let (status, body) = c.create(at_limits).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_store_failure_is_a_500_that_shows_no_internals() {
    let working = test_store().await;
    // A table that does not exist makes every store call fail.
    let broken = Store::new(working.client().clone(), "no-such-table");
    let c = Caller {
        app: App::new(broken.clone(), CursorCodec::from_env()),
        store: broken,
        ..Caller::admin().await
    };
    let (status, body) = c.send(events::load("members/get.json")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "internal_error");
    assert_eq!(body["error"]["message"], "Internal error.");
    assert_eq!(
        body["error"]["requestId"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert!(!body.to_string().contains("no-such-table"), "{body}");
}

#[tokio::test]
async fn metadata_the_store_cannot_hold_is_400_on_create_upsert_and_patch() {
    let c = Caller::admin().await;
    let deepest = domain::validate::MAX_METADATA_DEPTH;
    let (status, kept) = c
        .create(
            json!({"externalId": "deep", "status": "live", "metadata": nested_metadata(deepest)}),
        )
        .await;
    assert_eq!(status, 201, "the deepest metadata the store holds: {kept}");
    assert_eq!(
        c.get("deep").await.1["data"]["metadata"],
        nested_metadata(deepest)
    );
    let before = c.get("deep").await.1;

    for bad in [
        json!({"x": 1e308}),
        json!({"x": 1e-300}),
        json!({"": 1}),
        json!({"x": {"": 1}}),
        nested_metadata(deepest + 1),
        nested_metadata(40),
    ] {
        let create = json!({"externalId": "other", "status": "live", "metadata": bad});
        let (status, body) = c.create(create.clone()).await;
        assert_eq!(status, 400, "create {bad}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "metadata", "{body}");
        let upsert = events::with_body(events::load("members/upsert.json"), &create.to_string());
        let (status, body) = c.send(upsert).await;
        assert_eq!(status, 400, "upsert {bad}: {body}");
        let (status, body) = c.patch("deep", json!({"metadata": bad})).await;
        assert_eq!(status, 400, "patch {bad}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "metadata", "{body}");
    }
    assert_eq!(c.stored_count().await, 1, "nothing else stored");
    assert_eq!(c.get("deep").await.1, before, "nothing changed");
}

#[tokio::test]
async fn ids_longer_than_a_key_can_be_are_404_or_400_without_a_500() {
    let c = Caller::admin().await;
    let long = "x".repeat(3000);
    let (status, body) = c.get(&long).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = c.patch(&long, json!({"firstName": "A"})).await;
    assert_eq!(status, 404, "{body}");
    let delete = events::with_path_param(events::load("members/delete.json"), "id", &long);
    assert_eq!(c.send(delete).await.0, 404);
    let (status, body) = c.list(&[("externalId", &long)]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "externalId", "{body}");
}

#[tokio::test]
async fn a_cursor_forged_with_the_signing_secret_is_400_not_500() {
    let c = Caller::admin().await;
    for m in ["f1", "f2", "f3"] {
        assert_eq!(c.create(member(m)).await.0, 201);
    }
    // Someone holding the secret (the local development one is public) signs positions that
    // no page of this query ends on.
    let tenant = c.tenant();
    let filters = std::collections::BTreeMap::new();
    let binding = domain::cursor::Binding {
        tenant: &tenant,
        query: "account_user",
        filters: &filters,
    };
    // Positions name shards (`{shard}.PK`, `.SK`, `.ISK`, or `{shard}` = done); the shard's
    // partition key never comes from a cursor.
    let other_partition = [
        ("0.PK", "T#x#live#EXT#f1"),
        ("0.SK", "MEMBER"),
        ("0.GSI1PK", "T#someone-else#LIST#account_user#0"),
        ("0.ISK", "z"),
    ];
    let extra_attribute = [
        ("0.PK", "a"),
        ("0.SK", "b"),
        ("0.ISK", "d"),
        ("0.status", "live"),
    ];
    let too_long = [
        ("3.PK", "a".repeat(3000)),
        ("3.SK", "b".into()),
        ("3.ISK", "d".into()),
    ];
    let unsharded = [
        ("PK", "T#x#live#EXT#f1".to_string()),
        ("SK", "MEMBER".to_string()),
        ("GSI1PK", format!("{}#MEMBERS", tenant.key_prefix())),
        ("GSI1SK", "z".to_string()),
    ];
    let no_such_shard = [("8", "done")];
    let positions: Vec<domain::cursor::Position> = vec![
        other_partition
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        extra_attribute
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        too_long
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        unsharded
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        no_such_shard
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Default::default(),
    ];
    for position in positions {
        let cursor = CursorCodec::from_env().encode(&binding, &position);
        let (status, body) = c.list(&[("cursor", &cursor)]).await;
        assert_eq!(status, 400, "{position:?}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "cursor", "{body}");
    }
    // The cursors the API hands out still page.
    let (_, first) = c.list(&[("limit", "2")]).await;
    let next = first["paging"]["nextCursor"].as_str().unwrap().to_string();
    let (status, second) = c.list(&[("limit", "2"), ("cursor", &next)]).await;
    assert_eq!(
        (status, second["data"].as_array().unwrap().len()),
        (200, 1),
        "{second}"
    );
}
