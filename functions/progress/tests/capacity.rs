//! Capacity budgets (issue 5), measured by the capacity meter on DynamoDB Local.
//!
//! First the meter itself against DynamoDB's published rules: 1 WCU per started KB written, 1 RCU
//! per started 4 KB read strongly (half eventually), transactions at twice those.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use testkit::meter::{metered_test_store, totals, Meter};

fn item(pk: &str, bytes: usize) -> std::collections::HashMap<String, AttributeValue> {
    std::collections::HashMap::from([
        ("PK".to_string(), AttributeValue::S(pk.into())),
        ("SK".to_string(), AttributeValue::S("X".into())),
        ("pad".to_string(), AttributeValue::S("x".repeat(bytes))),
    ])
}

#[tokio::test]
async fn the_meter_applies_the_published_capacity_rules() {
    let (store, meter) = metered_test_store().await;
    let (client, table) = (store.client(), store.table());
    let pk = |n: &str| format!("meter-{}-{n}", uuid::Uuid::now_v7());
    let (small, large) = (pk("small"), pk("large"));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item(&small, 900)))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item(&large, 1500)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        totals(&meter.take()),
        (0.0, 3.0),
        "900 B: 1 WCU; 1.5 KB: 2 WCU"
    );

    for consistent in [true, false] {
        client
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S(large.clone()))
            .key("SK", AttributeValue::S("X".into()))
            .consistent_read(consistent)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        totals(&meter.take()),
        (1.5, 0.0),
        "strong 1 RCU, eventual 0.5"
    );

    let put = |pk: String| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item(&pk, 100)))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    client
        .transact_write_items()
        .transact_items(put(pk("t1")))
        .transact_items(put(pk("t2")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        totals(&meter.take()),
        (0.0, 4.0),
        "two small items in a transaction: 2 × 2 WCU"
    );
}

mod common;

use common::*;
use domain::log::LogKind;
use domain::program::ProgramKind;
use serde_json::json;

/// Reads and writes of one call, in capacity units.
fn units(meter: &Meter) -> (f64, f64) {
    totals(&meter.take())
}

#[tokio::test]
async fn member_reads_and_upserts_stay_within_budget() {
    let (store, meter) = metered_test_store().await;
    let w = World::on(store).await;
    // A realistic member: profile fields, tags and metadata.
    let (status, created) = w
        .track(json!({"externalId": "kim", "displayName": "Kim Lee", "email": "kim@example.com", "phone": "+447911123456", "country": "GB", "device": "mobile", "source": "referral", "tags": {"plan": "pro", "cohort": "2026-Q4"}, "metadata": {"signupDate": "2026-11-01"}}))
        .await;
    assert_eq!(status, 200);
    meter.take();

    // The profile's recommendations read the tenant's live programs once a minute per instance
    // (two small index queries when there are none), and the member's current progress in the
    // programs it joined (none here).
    assert_eq!(w.profile("kim").await.0, 200);
    let (reads, writes) = units(&meter);
    println!("track-user GET, programs not cached: {reads} RCU");
    assert!(reads <= 2.0 && writes == 0.0, "{reads} RCU, {writes} WCU");
    // Member GET by the customer's key: one strongly consistent read of one item.
    assert_eq!(w.profile("kim").await.0, 200);
    assert_eq!(units(&meter), (1.0, 0.0), "track-user GET");
    assert_eq!(w.member_route("get.json", "kim", None).await.0, 200);
    assert_eq!(
        units(&meter),
        (1.0, 0.0),
        "GET /schema/account_user/record/{{externalId}}"
    );

    // Member upsert of an existing member: one UpdateItem, ≤ 2 WCU.
    assert_eq!(
        w.track(json!({"externalId": "kim", "displayName": "Kim L."}))
            .await
            .0,
        200
    );
    let (reads, writes) = units(&meter);
    println!("track-user upsert of an existing member: {writes} WCU");
    assert!(writes <= 2.0, "track-user upsert wrote {writes} WCU");
    assert_eq!(reads, 0.0, "the upsert is a single conditional write");
    let (status, _) = w
        .member_route("patch.json", "kim", Some(json!({"source": "ads"})))
        .await;
    assert_eq!(status, 200);
    let (_, writes) = units(&meter);
    assert!(writes <= 2.0, "PATCH wrote {writes} WCU");
    let id = created["data"]["id"].as_str().unwrap();
    // By member id: the member item, found through the externalId this instance has seen (a
    // cold instance reads the id item first: 2 RCU, documented in BENCHMARKS.md).
    assert_eq!(w.member_route("get.json", id, None).await.0, 200);
    assert_eq!(units(&meter), (1.0, 0.0), "GET by member id, warm");
    let cold = store::Store::new(w.store.client().clone(), w.store.table());
    assert!(cold.member_by_id(&w.tenant, id).await.unwrap().is_some());
    assert_eq!(units(&meter), (2.0, 0.0), "GET by member id, cold");
    assert!(cold.member_by_id(&w.tenant, id).await.unwrap().is_some());
    assert_eq!(units(&meter), (1.0, 0.0), "then warm");
}

/// The budgets of one streak log of an existing member whose run goes on: at the API, the log
/// and its two index entries; in the stream processor, the log's period item, the run's record
/// (one conditional write: no transaction, no list entry, as its status is unchanged) and the
/// member's analytics. The first log of a period also moves the run's deadline, so its entry in
/// the due index (GSI3, SPEC §10) moves: one index delete and one put, once per member and period.
#[tokio::test]
async fn a_streak_log_stays_within_budget() {
    let (store, meter) = metered_test_store().await;
    let mut w = World::on(store).await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.program(ProgramKind::Milestone, json!({"name": "first", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 1, "rewardPoints": 5})).await;
    let (status, kim) = w
        .track(json!({"externalId": "kim", "displayName": "Kim Lee", "email": "kim@example.com", "phone": "+447911123456", "country": "GB", "device": "mobile", "source": "referral", "tags": {"plan": "pro", "cohort": "2026-Q4"}, "metadata": {"signupDate": "2026-11-01"}}))
        .await;
    assert_eq!(status, 200);
    // A week of history up to yesterday: the run, its reward and the member's analytics exist.
    for n in (1..=8).rev() {
        let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": format!("d{n}"), "activityAt": days_ago(n)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
        w.drain().await;
    }
    meter.take();

    let now = domain::time::format(&domain::time::now());
    for uid in ["today", "today again"] {
        let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": uid, "activityAt": now});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
        let (api_reads, api_writes) = units(&meter);
        w.drain().await;
        let charges = meter.take();
        let (reads, writes) = totals(&charges);
        println!("streak log ({uid}): API {api_reads} RCU, {api_writes} WCU; processor {reads} RCU, {writes} WCU: {charges:?}");
        // The log item and its entries in the tenant's and the member's log lists.
        assert_eq!(api_writes, 3.0, "API writes ({uid})");
        let budget = if uid == "today" { 5.0 } else { 3.0 };
        assert!(writes <= budget, "processor wrote {writes} WCU ({uid})");
    }
    let progress = w
        .records(kim["data"]["id"].as_str().unwrap(), "PROGRESS#")
        .await;
    assert_eq!(progress.len(), 1);
    println!("run record: {}", progress[0]);
    assert_eq!(progress[0]["currentProgressValue"], 9, "the run went on");
}

#[tokio::test]
async fn the_processor_collapses_a_burst_of_one_member() {
    let (store, meter) = metered_test_store().await;
    let mut w = World::on(store).await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 3, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.program(ProgramKind::Milestone, json!({"name": "first", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 1, "rewardPoints": 5})).await;
    w.member("kim", "live").await;
    w.drain().await;
    meter.take();
    // One log first, so the burst below adds to an existing run and member.
    let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": "first", "activityAt": days_ago(2)});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    let api = units(&meter);
    w.drain().await;
    let single = units(&meter).1;
    println!("a streak log: API {api:?} (RCU, WCU); processor {single} WCU (new run, reward)");
    // Another log the same day: the run's period grows, nothing new is rewarded.
    let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": "second", "activityAt": days_ago(2)});
    assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    meter.take();
    w.drain().await;
    println!(
        "another log, same period: processor {:?} (RCU, WCU)",
        units(&meter)
    );

    const BURST: usize = 50;
    for i in 0..BURST {
        let body = json!({"streakId": streak, "ownedById": "kim", "uniqueIdentifier": format!("b-{i}"), "activityAt": days_ago(1)});
        assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
    }
    let batch = w.collect().await;
    assert_eq!(batch.records.len(), BURST);
    meter.take();
    w.process(batch).await;
    let (reads, writes) = units(&meter);
    let per_log = writes / BURST as f64;
    println!(
        "processor: first log {single} WCU; burst of {BURST}: {reads} RCU, {writes} WCU, {per_log:.2} WCU per log"
    );
    // Work is collapsed per member and program: the burst costs about what one log costs.
    assert!(
        writes <= single * 1.5,
        "burst {writes} WCU vs one log {single} WCU"
    );
    assert!(per_log < 1.0, "{per_log} WCU per log");
}

async fn list_streak_logs(w: &World, query: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let event = testkit::events::with_query(testkit::events::load("logs/streak-list.json"), query);
    let event = testkit::events::as_caller(event, &w.tenant.account_id, "live", "admin");
    testkit::events::parse(w.streaks.handle(testkit::events::request(&event)).await)
}

/// A page of a tenant-wide list reads every shard's index partition (small entries: keys and
/// filtered attributes) and then the page's items by key; a member's list reads one partition.
#[tokio::test]
async fn a_tenant_wide_list_page_reads_its_shards_then_its_items() {
    let (store, meter) = metered_test_store().await;
    let w = World::on(store).await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    for m in 0..6 {
        for d in 1..=5 {
            let body = json!({"streakId": streak, "ownedBy": {"externalId": format!("u{m}"), "status": "live"}, "uniqueIdentifier": format!("u{m}-{d}"), "activityAt": days_ago(d)});
            assert_eq!(w.log(LogKind::Streak, body).await.0, 201);
        }
    }
    meter.take();
    let (status, page) = list_streak_logs(&w, &[("limit", "20")]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    let charges = meter.take();
    let queries = charges.iter().filter(|c| c.operation == "Query").count();
    let (reads, writes) = totals(&charges);
    println!("tenant-wide log list, 20 of 30: {queries} queries, {reads} RCU: {charges:?}");
    assert_eq!(queries, store::LIST_SHARDS, "one query per shard");
    assert_eq!(writes, 0.0);
    let (status, page) = list_streak_logs(&w, &[("limit", "20"), ("ownedById", "u1")]).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    let charges = meter.take();
    let (reads, _) = totals(&charges);
    println!(
        "one member's log list (5): {} calls, {reads} RCU",
        charges.len()
    );
    assert_eq!(
        charges.iter().filter(|c| c.operation == "Query").count(),
        1,
        "one partition"
    );
}

/// DynamoDB calls per log, by operation, as "op×n" sorted.
fn calls(charges: &[testkit::meter::Charge]) -> String {
    let mut by_op = std::collections::BTreeMap::<&str, usize>::new();
    for c in charges {
        *by_op.entry(c.operation.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = by_op.iter().map(|(op, n)| format!("{op}×{n}")).collect();
    parts.join(" ")
}

/// The progress bench's shape (BENCHMARKS.md §4, §5): a count challenge, a member that already
/// has its window, one more log. Calls and units at the API and in the processor, one log per
/// batch (the paced case: nothing collapses).
#[tokio::test]
async fn a_challenge_log_costs_seven_calls_end_to_end() {
    let (store, meter) = metered_test_store().await;
    let mut w = World::on(store).await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "bench", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "monthly", "completionTargetValue": 1_000_000_000})).await;
    let (status, _) = w.track(json!({"externalId": "lat"})).await;
    assert_eq!(status, 200);
    let now = || domain::time::format(&domain::time::now());
    let body = json!({"challengeId": challenge, "ownedById": "lat", "uniqueIdentifier": "first", "activityAt": now()});
    assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    w.drain().await;
    meter.take();

    let body = json!({"challengeId": challenge, "ownedById": "lat", "uniqueIdentifier": "second", "activityAt": now()});
    assert_eq!(w.log(LogKind::Challenge, body).await.0, 201);
    let api = meter.take();
    w.drain().await;
    let processor = meter.take();
    let ((api_r, api_w), (p_r, p_w)) = (totals(&api), totals(&processor));
    println!(
        "challenge log: API {} calls ({}), {api_r} RCU, {api_w} WCU; processor {} calls ({}), {p_r} RCU, {p_w} WCU",
        api.len(),
        calls(&api),
        processor.len(),
        calls(&processor)
    );
    // The program and the member in one BatchGetItem (strongly consistent: 2 RCU), the log's
    // conditional put (item + two list entries). (Before issue 19: a GetItem for each.)
    assert_eq!(api.len(), 2, "{}", calls(&api));
    assert_eq!((api_r, api_w), (2.0, 3.0));
    // The program and its milestones were read for the first log's batch and the second log names
    // the same version: not read again. Per member: the member (GetItem), the window at the head
    // (Query), the period item (UpdateItem), the window's conditional put, the analytics
    // (UpdateItem); and the tenant's live leaderboards (one Query of one small partition per
    // tenant and batch, 0.5 RCU: issue 21). (Before issue 19: 7 calls, the program's GetItem and
    // milestones' Query too.)
    assert_eq!(processor.len(), 6, "{}", calls(&processor));
    assert!(p_w <= 3.0, "processor wrote {p_w} WCU");
}

/// A board's reads (issue 21): a top-100 page and a member's rank cost the same on a board of
/// 1,000 members and one of 100,000 (each shard is read a bounded number of times, and a rank
/// counts only the scores ahead of it, which are the same here).
#[tokio::test]
async fn a_boards_top_page_and_a_rank_cost_the_same_on_a_small_and_a_large_board() {
    use app::leaderboards::{self, Span};
    use domain::cursor::CursorCodec;
    use domain::leaderboard::{LeaderboardInput, Score};
    use domain::tenant::{Environment, Tenant};
    use rust_decimal::Decimal;

    let (store, meter) = metered_test_store().await;
    let tenant = Tenant::new(uuid::Uuid::now_v7().to_string(), Environment::Live);
    let codec = CursorCodec::from_env();
    let now = domain::time::now();
    let mut costs = Vec::new();
    for size in [1_000usize, 100_000] {
        let input: LeaderboardInput = serde_json::from_value(
            json!({"name": format!("{size}"), "status": "live", "metric": "points", "period": "all_time"}),
        )
        .unwrap();
        let board = input
            .apply(None, uuid::Uuid::now_v7().to_string(), now)
            .unwrap();
        store.insert_board(&tenant, &board).await.unwrap();
        // Member i has the (i + 1)th best value.
        let scores: Vec<Score> = (0..size)
            .map(|i| Score {
                member_id: format!("m-{i:06}"),
                external_id: format!("player-{i}"),
                display_name: Some(format!("Player {i}")),
                value: Decimal::from(size - i),
                reached_at: now,
            })
            .collect();
        let started = std::time::Instant::now();
        store
            .load_board(&tenant, &board.id, "all_time", &scores, now)
            .await
            .unwrap();
        println!("{size} scores loaded in {:?}", started.elapsed());
        meter.take();
        let span = Span {
            key: "all_time".into(),
            settles_at: None,
        };
        let params = std::collections::BTreeMap::new();
        let (page, _) =
            leaderboards::rankings(&store, &codec, &tenant, &board, &span, &params, 100, now)
                .await
                .unwrap();
        assert_eq!(page["rankings"][99]["rank"], 100);
        assert_eq!(page["totalParticipants"], size);
        let top = units(&meter);
        let rank =
            leaderboards::member_rank(&store, &tenant, &board, &span, "m-000499", 5, false, now)
                .await
                .unwrap();
        assert_eq!(
            (rank["rank"].clone(), rank["rankExact"].clone()),
            (json!(500), json!(true))
        );
        let ranked = units(&meter);
        println!("{size} members: top-100 page {top:?}, a rank of 500 {ranked:?} (RCU, WCU)");
        costs.push((top, ranked));
    }
    assert_eq!(
        costs[0], costs[1],
        "the same reads cost the same whatever the board's size"
    );
    // 16 shards: a page is 16 queries (and a second for shards that may reach into it) and the
    // histograms; a rank is two counts, two neighbour reads and the histograms (BENCHMARKS.md).
    assert!(costs[0].0 .0 <= 40.0 && costs[0].1 .0 <= 120.0, "{costs:?}");
}
