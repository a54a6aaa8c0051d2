//! A leaderboard of `members` (default 100,000) in DynamoDB Local (SPEC §11, issue 21): loaded in
//! bulk, then score changes through the processor's score write (one transaction each, 64 at once
//! as the processor runs members), and the latency of a top-100 page and of a member's rank as the
//! leaderboards function computes them — in process and over HTTP through the local run — beside
//! the raw DynamoDB calls they are made of (one GSI4 query of 100 entries; one GetItem).

use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use app::leaderboards::{self, Span};
use domain::cursor::CursorCodec;
use domain::leaderboard::{LeaderboardInput, Score};
use domain::tenant::Tenant;
use store::{ScoreChange, ScoreOwner, Store};

use crate::http_load::Client;
use crate::stats::quantile;

fn millis(mut samples: Vec<f64>) -> Value {
    json!({"p50": quantile(&mut samples, 0.5), "p99": quantile(&mut samples, 0.99)})
}

/// Ranks read over HTTP: this many members, real ones (the route resolves the member), spread
/// over the board's ranks.
const SAMPLES: usize = 200;

/// What the HTTP part reads: the board and the members whose ranks it asks for.
pub struct HttpSamples {
    board_id: String,
    external_ids: Vec<String>,
}

/// The sampled score positions: spread over all ranks.
fn sampled(i: usize, members: usize) -> usize {
    (i * 997) % members
}

pub async fn measure(
    store: &Store,
    tenant: &Tenant,
    members: usize,
) -> Result<(Value, HttpSamples), String> {
    let err = |e: store::StoreError| format!("{e:?}");
    let tenant = tenant.clone();
    let now = domain::time::now();
    let input: LeaderboardInput = serde_json::from_value(
        json!({"name": "bench", "status": "live", "metric": "points", "period": "all_time"}),
    )
    .map_err(|e| e.to_string())?;
    let board = input
        .apply(None, uuid::Uuid::now_v7().to_string(), now)
        .map_err(|e| format!("{e:?}"))?;
    store.insert_board(&tenant, &board).await.map_err(err)?;
    let mut scores: Vec<Score> = (0..members)
        .map(|i| Score {
            member_id: format!("m-{i:07}"),
            external_id: format!("player-{i}"),
            display_name: Some(format!("Player {i}")),
            value: Decimal::from((i * 7919) % 50_000),
            reached_at: now,
        })
        .collect();
    // The sampled positions belong to real members, so that the rank route finds them.
    let mut external_ids = Vec::new();
    for i in 0..SAMPLES.min(members) {
        let score = &mut scores[sampled(i, members)];
        if score.external_id.starts_with("sample-") {
            continue;
        }
        let input =
            serde_json::from_value(json!({"externalId": format!("sample-{i}"), "status": "live"}))
                .map_err(|e| e.to_string())?;
        let member = app::members::create(store, &tenant, input, now)
            .await
            .map_err(|e| format!("{e:?}"))?;
        score.member_id = member.id;
        score.external_id = member.external_id.clone();
        external_ids.push(member.external_id);
    }
    let started = Instant::now();
    store
        .load_board(&tenant, &board.id, "all_time", &scores, now)
        .await
        .map_err(err)?;
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!("board: {members} scores loaded in {load_seconds:.1} s");

    // Score changes: each needs its source item (a points entry stands in).
    let changes = 2_000.min(members);
    for i in 0..changes {
        store
            .client()
            .put_item()
            .table_name(store.table())
            .item(
                "PK",
                AttributeValue::S(format!("{}#POINTS#U#bench-{i}", tenant.key_prefix())),
            )
            .item("SK", AttributeValue::S("POINTS".into()))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    let started = Instant::now();
    let mut work = futures_util::stream::iter((0..changes).map(|i| {
        let (tenant, board_id) = (&tenant, &board.id);
        async move {
            let member = format!("m-{:07}", (i * 31) % members);
            let source = format!("{}#POINTS#U#bench-{i}", tenant.key_prefix());
            let change = ScoreChange {
                owner: ScoreOwner {
                    board_id,
                    period_key: "all_time",
                    member_id: &member,
                    external_id: "player",
                    display_name: None,
                },
                delta: Decimal::from(10),
                at: domain::time::now(),
                source: (&source, "POINTS"),
            };
            store
                .add_to_score(tenant, &change, domain::time::now())
                .await
        }
    }))
    .buffer_unordered(64);
    while let Some(done) = work.next().await {
        done.map_err(err)?;
    }
    drop(work);
    let change_seconds = started.elapsed().as_secs_f64();
    let per_second = changes as f64 / change_seconds;
    eprintln!("board: {changes} score changes in {change_seconds:.1} s = {per_second:.0}/s");

    let span = Span {
        key: "all_time".into(),
        settles_at: None,
    };
    let codec = CursorCodec::from_env();
    let params = std::collections::BTreeMap::new();
    let (mut page, mut rank, mut raw_query, mut raw_get) = (vec![], vec![], vec![], vec![]);
    for i in 0..SAMPLES {
        let started = Instant::now();
        leaderboards::rankings(store, &codec, &tenant, &board, &span, &params, 100, now)
            .await
            .map_err(|e| format!("{e:?}"))?;
        page.push(started.elapsed().as_secs_f64() * 1000.0);
        let member = scores[sampled(i, members)].member_id.clone();
        let started = Instant::now();
        leaderboards::member_rank(store, &tenant, &board, &span, &member, 5, false, now)
            .await
            .map_err(|e| format!("{e:?}"))?;
        rank.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        store
            .client()
            .query()
            .table_name(store.table())
            .index_name("GSI4")
            .key_condition_expression("GSI4PK = :pk")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(format!(
                    "{}#BOARD#{}#all_time#0",
                    tenant.key_prefix(),
                    board.id
                )),
            )
            .limit(100)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        raw_query.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        store
            .client()
            .get_item()
            .table_name(store.table())
            .key(
                "PK",
                AttributeValue::S(format!("{}#MEMBER#{member}", tenant.key_prefix())),
            )
            .key(
                "SK",
                AttributeValue::S(format!("BOARD#{}#all_time", board.id)),
            )
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        raw_get.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let result = json!({
        "members": members,
        "loadSeconds": load_seconds,
        "scoreChanges": changes,
        "scoreChangesPerSecond": per_second,
        "top100PageMs": millis(page),
        "memberRankMs": millis(rank),
        "rawGsi4Query100Ms": millis(raw_query),
        "rawGetItemMs": millis(raw_get),
    });
    eprintln!("board: {result}");
    let samples = HttpSamples {
        board_id: board.id.clone(),
        external_ids,
    };
    Ok((result, samples))
}

/// The same reads over HTTP, through the local run's gateway, authorizer and leaderboards
/// function: a top-100 page and a member's rank (with 5 neighbours each side), p50 and p99.
pub fn measure_http(client: &Client, samples: &HttpSamples) -> Result<Value, String> {
    let path = format!("/schema/leaderboard/record/{}/rankings", samples.board_id);
    let (mut page, mut rank) = (vec![], vec![]);
    for external_id in &samples.external_ids {
        let started = Instant::now();
        let (status, body) = client.call("GET", &format!("{path}?limit=100"), None);
        if status != 200 {
            return Err(format!("top-100 page over HTTP: {status} {body}"));
        }
        page.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let (status, body) = client.call("GET", &format!("{path}/{external_id}?around=5"), None);
        if status != 200 {
            return Err(format!("a rank over HTTP: {status} {body}"));
        }
        rank.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let result = json!({
        "samples": samples.external_ids.len(),
        "top100PageMs": millis(page),
        "memberRankMs": millis(rank),
    });
    eprintln!("board over HTTP: {result}");
    Ok(result)
}
