//! Member routes (SPEC §3) through the real handler, fed with `events/members/*.json`, against
//! DynamoDB Local. Each test uses fresh accounts, so tests run in parallel on one table.

mod common;

use common::*;
use serde_json::{json, Value};
use testkit::events;

#[tokio::test]
async fn create_from_the_sample_event_then_read_by_id_and_external_id() {
    let c = Caller::admin().await;
    let (status, body) = c.send(events::load("members/create.json")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "success");
    let data = &body["data"];
    assert_eq!(data["externalId"], "user_12345");
    assert_eq!(data["email"], "jane@example.com");
    assert_eq!(data["phoneNumber"], "+14155552671");
    assert_eq!(data["tags"]["plan"], "premium");
    assert_eq!(data["lifecycleStage"], "new");
    assert_eq!(data["totalPlays"], 0);
    let id = data["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert!(data["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        data["createdAt"].as_str().unwrap().len(),
        "2026-11-24T09:15:00.000Z".len()
    );

    let (status, by_id) = c.get(id).await;
    assert_eq!(status, 200);
    assert_eq!(by_id["data"]["externalId"], "user_12345");
    let (status, by_ext) = c.send(events::load("members/get.json")).await;
    assert_eq!(status, 200);
    assert_eq!(by_ext["data"]["id"], id);

    let stored = c
        .store
        .member_by_external_id(&c.tenant(), "user_12345")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, id);
}

#[tokio::test]
async fn duplicate_external_id_is_409_and_changes_nothing() {
    let c = Caller::admin().await;
    assert_eq!(
        c.create(json!({"externalId": "dup", "status": "live", "firstName": "A"}))
            .await
            .0,
        201
    );
    let (status, body) = c
        .create(json!({"externalId": "dup", "status": "paused", "firstName": "B"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    let (_, got) = c.get("dup").await;
    assert_eq!(got["data"]["firstName"], "A");
    assert_eq!(got["data"]["status"], "live");
    assert_eq!(c.stored_count().await, 1);
}

#[tokio::test]
async fn upsert_creates_then_updates_keeping_unsent_fields() {
    let c = Caller::admin().await;
    let (status, created) = c.send(events::load("members/upsert.json")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["displayName"], "Jane D.");
    let upsert =
        |body: Value| events::with_body(events::load("members/upsert.json"), &body.to_string());
    let (status, updated) = c
        .send(upsert(
            json!({"externalId": "user_12345", "email": "j@example.com"}),
        ))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["id"], created["data"]["id"]);
    assert_eq!(
        updated["data"]["displayName"], "Jane D.",
        "fields not sent are kept"
    );
    assert_eq!(updated["data"]["email"], "j@example.com");

    // Creating through /schema needs a status, even with upsert.
    let (status, body) = c.send(upsert(json!({"externalId": "no-status"}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "status");
    assert_eq!(c.stored_count().await, 1);

    let bad = events::with_query(upsert(member("x")), &[("upsert", "yes")]);
    assert_eq!(c.send(bad).await.0, 400);
}

#[tokio::test]
async fn patch_updates_clears_with_null_and_reads_its_write() {
    let c = Caller::admin().await;
    let (_, created) = c.send(events::load("members/create.json")).await;
    let (status, patched) = c.send(events::load("members/patch.json")).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["status"], "paused");
    assert_eq!(patched["data"]["email"], Value::Null, "null clears");
    assert_eq!(
        patched["data"]["firstName"], "Jane",
        "absent fields are kept"
    );
    let (_, read) = c.get(created["data"]["id"].as_str().unwrap()).await;
    assert_eq!(read["data"]["status"], "paused");
    assert_eq!(read["data"]["email"], Value::Null);

    for (body, field) in [
        (json!({"status": null}), "status"),
        (json!({"externalId": null}), "externalId"),
        (json!({"externalID": "typo"}), "externalID"),
        (json!({"device": "tv"}), "device"),
    ] {
        let (status, err) = c.patch("user_12345", body).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["error"]["details"][0]["field"], field);
    }
    let (_, after) = c.get("user_12345").await;
    assert_eq!(
        after["data"]["updatedAt"], read["data"]["updatedAt"],
        "refused patches change nothing"
    );
    assert_eq!(c.patch("nobody", json!({"firstName": "x"})).await.0, 404);
}

#[tokio::test]
async fn changing_external_id_moves_the_member_and_keeps_uniqueness() {
    let c = Caller::admin().await;
    let (_, a) = c
        .create(json!({"externalId": "a", "status": "live", "email": "a@example.com"}))
        .await;
    c.create(member("b")).await;
    let id = a["data"]["id"].as_str().unwrap();

    let (status, body) = c.patch(id, json!({"externalId": "b"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        c.get("a").await.1["data"]["id"],
        id,
        "a refused move leaves it in place"
    );

    let (status, moved) = c
        .patch(id, json!({"externalId": "a2", "firstName": "Ann"}))
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["data"]["id"], id);
    assert_eq!(c.get("a").await.0, 404);
    let (_, by_new) = c.get("a2").await;
    assert_eq!(by_new["data"]["email"], "a@example.com");
    assert_eq!(by_new["data"]["firstName"], "Ann");
    assert_eq!(c.get(id).await.1["data"]["externalId"], "a2");
    assert_eq!(
        c.create(member("a")).await.0,
        201,
        "the old externalId is free again"
    );
    assert_eq!(c.stored_count().await, 3);
}

#[tokio::test]
async fn delete_removes_at_once() {
    let c = Caller::admin().await;
    let (_, created) = c.send(events::load("members/create.json")).await;
    let (status, body) = c.send(events::load("members/delete.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deleted"], true);
    assert_eq!(c.get("user_12345").await.0, 404);
    assert_eq!(c.get(created["data"]["id"].as_str().unwrap()).await.0, 404);
    assert_eq!(c.send(events::load("members/delete.json")).await.0, 404);
    assert_eq!(c.stored_count().await, 0);
    assert_eq!(
        c.send(events::load("members/create.json")).await.0,
        201,
        "re-creating works"
    );
}

#[tokio::test]
async fn list_filters_and_pages_with_bound_cursors() {
    let c = Caller::admin().await;
    for i in 0..5 {
        let status = if i % 2 == 0 { "live" } else { "paused" };
        c.create(json!({"externalId": format!("m{i}"), "status": status, "email": format!("m{i}@example.com")}))
            .await;
    }
    let (status, sample) = c.send(events::load("members/list.json")).await;
    assert_eq!(status, 200, "{sample}");
    assert_eq!(sample["paging"]["limit"], 2);
    assert_eq!(sample["data"].as_array().unwrap().len(), 2);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "2")];
        if let Some(cur) = &cursor {
            q.push(("cursor", cur.as_str()));
        }
        let (status, page) = c.list(&q).await;
        assert_eq!(status, 200, "{page}");
        for m in page["data"].as_array().unwrap() {
            seen.push(m["externalId"].as_str().unwrap().to_string());
        }
        match page["paging"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["m4", "m3", "m2", "m1", "m0"],
        "newest first, each once"
    );

    let (_, live) = c.list(&[("status", "live")]).await;
    assert_eq!(live["data"].as_array().unwrap().len(), 3);
    let (_, by_email) = c.list(&[("email", "m3@example.com")]).await;
    assert_eq!(by_email["data"][0]["externalId"], "m3");
    let (_, by_ext) = c.list(&[("externalId", "m1")]).await;
    assert_eq!(by_ext["data"].as_array().unwrap().len(), 1);
    let (_, none) = c.list(&[("externalId", "m1"), ("status", "live")]).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);

    // Cursors are bound to the query and the tenant, and tamper-proof.
    let (_, first) = c.list(&[("limit", "1"), ("status", "live")]).await;
    let cur = first["paging"]["nextCursor"].as_str().unwrap().to_string();
    assert_eq!(
        c.list(&[("limit", "1"), ("status", "live"), ("cursor", &cur)])
            .await
            .0,
        200
    );
    assert_eq!(
        c.list(&[("limit", "1"), ("status", "paused"), ("cursor", &cur)])
            .await
            .0,
        400
    );
    let mut tampered = cur.clone();
    tampered.replace_range(0..1, if cur.starts_with('e') { "f" } else { "e" });
    let (status, err) = c
        .list(&[("limit", "1"), ("status", "live"), ("cursor", &tampered)])
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["details"][0]["field"], "cursor");
    let other = Caller::admin().await;
    assert_eq!(
        other
            .list(&[("limit", "1"), ("status", "live"), ("cursor", &cur)])
            .await
            .0,
        400
    );

    for bad in ["0", "1001", "abc", "-1"] {
        let (status, err) = c.list(&[("limit", bad)]).await;
        assert_eq!(status, 400, "limit={bad}");
        assert_eq!(err["error"]["details"][0]["field"], "limit");
    }
    assert_eq!(c.list(&[("limit", "1000")]).await.0, 200);
    assert_eq!(c.list(&[("status", "active")]).await.0, 400);
    assert_eq!(
        c.list(&[("Status", "live")]).await.0,
        400,
        "unknown query parameters are named"
    );
}

#[tokio::test]
async fn credentials_roles_and_tenants() {
    let c = Caller::admin().await;
    c.send(events::load("members/create.json")).await;

    let anonymous = events::unauthenticated(events::load("members/get.json"));
    let (status, body) = events::parse(c.app.handle(events::request(&anonymous)).await);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(
        body["error"]["requestId"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );

    let public = Caller {
        role: "public",
        ..Caller::admin().await
    };
    let public = Caller {
        account: c.account.clone(),
        ..public
    };
    for file in [
        "create.json",
        "upsert.json",
        "get.json",
        "patch.json",
        "delete.json",
        "list.json",
        "streak-progress.json",
    ] {
        let (status, body) = public.send(events::load(&format!("members/{file}"))).await;
        assert_eq!(status, 403, "{file}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }

    let other_account = Caller::admin().await;
    assert_eq!(
        other_account.send(events::load("members/get.json")).await.0,
        404
    );
    assert_eq!(
        other_account
            .send(events::load("members/delete.json"))
            .await
            .0,
        404
    );
    let test_env = Caller {
        environment: "test",
        account: c.account.clone(),
        ..Caller::admin().await
    };
    assert_eq!(
        test_env.send(events::load("members/get.json")).await.0,
        404,
        "test does not see live"
    );
    assert_eq!(test_env.stored_count().await, 0);
    assert_eq!(
        c.get("user_12345").await.0,
        200,
        "still there for its owner"
    );
}

#[tokio::test]
async fn twenty_concurrent_creates_give_one_201_and_nineteen_409() {
    let c = Caller::admin().await;
    let results = futures_join(20, || {
        c.create(json!({"externalId": "race", "status": "live"}))
    })
    .await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let conflicts = results.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((created, conflicts), (1, 19), "{results:?}");
    assert_eq!(c.stored_count().await, 1);
}

#[tokio::test]
async fn twenty_concurrent_upserts_give_one_member() {
    let c = Caller::admin().await;
    let upsert = || {
        c.send(events::with_body(
            events::load("members/upsert.json"),
            &json!({"externalId": "race", "status": "live", "displayName": "x"}).to_string(),
        ))
    };
    let results = futures_join(20, upsert).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let updated = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, updated), (1, 19), "{results:?}");
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(_, b)| b["data"]["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 1, "every answer names the same member");
    assert_eq!(c.stored_count().await, 1);
}

#[tokio::test]
async fn activity_lists_answer_for_members_only() {
    let c = Caller::admin().await;
    c.send(events::load("members/create.json")).await;
    for file in [
        "streak-progress",
        "challenge-progress",
        "streak-log",
        "challenge-log",
        "reward-log",
    ] {
        let (status, body) = c.send(events::load(&format!("members/{file}.json"))).await;
        assert_eq!(status, 200, "{file}: {body}");
        assert_eq!(body["data"], json!([]));
        assert_eq!(body["paging"]["nextCursor"], Value::Null);
        let missing = events::with_path_param(
            events::load(&format!("members/{file}.json")),
            "id",
            "nobody",
        );
        assert_eq!(c.send(missing).await.0, 404, "{file}");
    }
}
