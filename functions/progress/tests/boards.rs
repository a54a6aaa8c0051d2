//! Leaderboards through the real path: points entries and logs written by their handlers, read
//! back from DynamoDB Local's stream, scored by the processor, ranked by the leaderboards handler;
//! and a brute-force oracle (sort the ledger) that any mix of credits, spends, plays, ties,
//! pauses and deletions must agree with.

mod common;

use std::collections::BTreeMap;

use common::*;
use domain::cursor::CursorCodec;
use domain::log::LogKind;
use domain::program::ProgramKind;
use proptest::prelude::*;
use serde_json::{json, Value};
use testkit::events;

/// The world plus the points and leaderboards handlers.
struct Boards {
    w: World,
    points: points::App,
    boards: leaderboards::App,
}

impl Boards {
    async fn new() -> Self {
        let w = World::new().await;
        Boards {
            points: points::App::new(w.store.clone(), CursorCodec::from_env()),
            boards: leaderboards::App::new(w.store.clone(), CursorCodec::from_env()),
            w,
        }
    }

    async fn call(&self, event: Value) -> (u16, Value) {
        let event = events::as_caller(event, &self.w.tenant.account_id, "live", "admin");
        events::parse(self.boards.handle(events::request(&event)).await)
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        let event = events::with_body(events::load("leaderboards/create.json"), &body.to_string());
        self.call(event).await
    }

    async fn board(&self, body: Value) -> String {
        let (status, answer) = self.create(body).await;
        assert_eq!(status, 201, "{answer}");
        answer["data"]["id"].as_str().unwrap().to_string()
    }

    async fn credit(&self, owner: &str, amount: Value, key: &str) -> Value {
        let body = json!({"ownedById": owner, "amount": amount, "uniqueIdentifier": key});
        let event = events::as_caller(
            events::with_body(events::load("points/create.json"), &body.to_string()),
            &self.w.tenant.account_id,
            "live",
            "admin",
        );
        let (status, answer) = events::parse(self.points.handle(events::request(&event)).await);
        assert_eq!(status, 201, "{answer}");
        answer["data"].clone()
    }

    async fn rankings(&self, board: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let event =
            events::with_path_param(events::load("leaderboards/rankings.json"), "id", board);
        self.call(events::with_query(event, query)).await
    }

    /// Every entry of the current period, read page by page with `page` entries a page.
    async fn all_rankings(&self, board: &str, page: usize) -> (Vec<(u64, String, String)>, Value) {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let limit = page.to_string();
        loop {
            let mut query = vec![("limit", limit.as_str())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.as_str()));
            }
            let (status, answer) = self.rankings(board, &query).await;
            assert_eq!(status, 200, "{answer}");
            for e in answer["data"]["rankings"].as_array().unwrap() {
                out.push((
                    e["rank"].as_u64().unwrap(),
                    e["externalId"].as_str().unwrap().to_string(),
                    e["value"].to_string(),
                ));
            }
            cursor = answer["paging"]["nextCursor"].as_str().map(String::from);
            if cursor.is_none() {
                return (out, answer["data"].clone());
            }
        }
    }

    async fn member_rank(&self, board: &str, member: &str, around: &str) -> (u16, Value) {
        let mut event = events::load("leaderboards/member-rank.json");
        event["pathParameters"]["id"] = json!(board);
        event["pathParameters"]["memberId"] = json!(member);
        let (status, answer) = self
            .call(events::with_query(event, &[("around", around)]))
            .await;
        match status {
            200 => (status, answer["data"].clone()),
            _ => (status, answer),
        }
    }
}

fn ranks(entries: &[(u64, String, String)]) -> Vec<(u64, &str, &str)> {
    entries
        .iter()
        .map(|(r, m, v)| (*r, m.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn boards_rank_points_and_plays_from_the_stream() {
    let mut b = Boards::new().await;
    let points = b
        .board(json!({"name": "Top points", "status": "live", "metric": "points", "period": "all_time"}))
        .await;
    let plays = b
        .board(json!({"name": "Busiest today", "status": "live", "metric": "plays", "period": "daily", "timezone": "Europe/Berlin"}))
        .await;
    let streak = b.w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 5, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    b.w.program(ProgramKind::Milestone, json!({"name": "first day", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 1, "rewardPoints": 5})).await;
    for m in ["ada", "bob", "cy", "dee"] {
        b.w.member(m, "live").await;
    }
    b.w.member("pam", "paused").await;
    b.credit("ada", json!(50), "a1").await;
    b.credit("bob", json!(30), "b1").await;
    // cy reaches 55 before ada does (ada's last 5 come with her reward, after her logs): cy
    // ranks first of the tie.
    b.credit("cy", json!(20.5), "c1").await;
    b.credit("cy", json!(34.5), "c2").await;
    b.credit("dee", json!(10), "d1").await;
    // A spend does not lower a points board; a paused member takes no part.
    b.credit("ada", json!(-20), "a2").await;
    b.credit("pam", json!(1000), "p1").await;
    // Each first log is a play and reaches a milestone whose 5 points the processor credits.
    for (owner, n) in [("ada", 1), ("ada", 2), ("dee", 1), ("pam", 1)] {
        let body = json!({"streakId": streak, "ownedById": owner, "uniqueIdentifier": format!("{owner}-{n}")});
        assert_eq!(b.w.log(LogKind::Streak, body).await.0, 201);
    }
    let batches = b.w.drain().await;

    let (all, page) = b.all_rankings(&points, 2).await;
    assert_eq!(
        ranks(&all),
        [
            (1, "cy", "55"),
            (1, "ada", "55"),
            (3, "bob", "30"),
            (4, "dee", "15")
        ],
        "standard competition ranks, ties by who reached the value first; pages of 2 keep them"
    );
    assert_eq!(page["totalParticipants"], 4);
    assert_eq!(page["final"], false, "all time never ends");
    assert!(page["asOf"].is_string(), "{page}");
    let (today, page) = b.all_rankings(&plays, 10).await;
    assert_eq!(ranks(&today), [(1, "ada", "2"), (2, "dee", "1")]);
    assert_eq!(page["totalParticipants"], 2);

    // A member's rank, percentile and neighbours; a tie shares the rank above.
    let (status, ada) = b.member_rank(&points, "ada", "1").await;
    assert_eq!(status, 200, "{ada}");
    assert_eq!(
        (ada["rank"].clone(), ada["value"].clone()),
        (json!(1), json!(55))
    );
    assert_eq!(ada["percentile"], 100);
    assert_eq!(ada["rankExact"], true);
    assert_eq!(ada["above"][0]["externalId"], "cy");
    assert_eq!(ada["above"][0]["rank"], 1);
    assert_eq!(ada["below"][0]["externalId"], "bob");
    assert_eq!(ada["below"][0]["rank"], 3);
    let (_, dee) = b.member_rank(&points, "dee", "2").await;
    assert_eq!(
        (dee["rank"].clone(), dee["percentile"].clone()),
        (json!(4), json!(25))
    );
    let ranks_above: Vec<u64> = dee["above"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks_above, [1, 3], "ada (tied first), then bob");
    assert_eq!(
        b.member_rank(&points, "pam", "1").await.0,
        404,
        "paused: not on the board"
    );

    // The same batches again change nothing.
    for batch in batches {
        b.w.process(batch).await;
    }
    assert_eq!(
        b.all_rankings(&points, 10).await.0,
        all,
        "a replay adds nothing"
    );

    // A deleted member leaves every board.
    assert_eq!(b.w.member_route("delete.json", "bob", None).await.0, 200);
    b.w.drain().await;
    let (after, page) = b.all_rankings(&points, 10).await;
    assert_eq!(
        ranks(&after),
        [(1, "cy", "55"), (1, "ada", "55"), (3, "dee", "15")]
    );
    assert_eq!(page["totalParticipants"], 3);

    // The end user's own view: others by displayName only.
    let event = events::as_end_user(
        events::with_path_param(events::load("leaderboards/me.json"), "id", &points),
        &b.w.tenant.account_id,
        "live",
        "dee",
    );
    let (status, me) = events::parse(b.boards.handle(events::request(&event)).await);
    assert_eq!(status, 200, "{me}");
    let me = &me["data"];
    assert_eq!(me["rank"], 3);
    assert_eq!(me["externalId"], "dee");
    assert!(
        me["above"][0].get("ownedById").is_none() && me["above"][0].get("externalId").is_none(),
        "{me}"
    );
}

#[tokio::test]
async fn bad_boards_and_queries_are_refused_and_store_nothing() {
    let b = Boards::new().await;
    let good = json!({"name": "Top", "status": "live", "metric": "points", "period": "weekly"});
    for (field, bad) in [
        ("name", json!("")),
        ("status", json!("open")),
        ("metric", json!("likes")),
        ("period", json!("yearly")),
        ("timezone", json!("Mars/Olympus")),
    ] {
        let mut body = good.clone();
        body[field] = bad;
        let (status, answer) = b.create(body).await;
        assert_eq!(status, 400, "{field}: {answer}");
        assert!(
            answer["error"]["details"].to_string().contains(field),
            "{field}: {answer}"
        );
    }
    let (status, answer) = b.create(json!({"name": "x", "status": "live", "metric": "points", "period": "weekly", "extra": 1})).await;
    assert_eq!(status, 400, "{answer}");
    // A program metric names a program of this account, of its kind; other metrics name none.
    let challenge = b.w.program(ProgramKind::Challenge, json!({"name": "c", "status": "live", "completionTargetValue": 10, "aggregationMethod": "count", "aggregationPeriod": "weekly"})).await;
    for (body, field) in [
        (json!({"metric": "streak"}), "streakId"),
        (
            json!({"metric": "streak", "streakId": challenge}),
            "streakId",
        ),
        (
            json!({"metric": "streak", "streakId": "no-such-streak"}),
            "streakId",
        ),
        (
            json!({"metric": "challenge", "challengeId": null}),
            "challengeId",
        ),
        (
            json!({"metric": "points", "challengeId": challenge}),
            "challengeId",
        ),
        (
            json!({"metric": "plays", "streakId": challenge}),
            "streakId",
        ),
    ] {
        let mut bad = good.clone();
        for (k, v) in body.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (status, answer) = b.create(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(
            answer["error"]["details"].to_string().contains(field),
            "{bad}: {answer}"
        );
    }
    let (status, list) = b.call(events::load("leaderboards/list.json")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"], json!([]), "nothing was stored");

    let board = b.board(good).await;
    for (name, value) in [
        ("periodKey", "2026-11-24"),
        ("periodKey", "soon"),
        ("limit", "0"),
        ("limit", "1001"),
    ] {
        let (status, answer) = b.rankings(&board, &[(name, value)]).await;
        assert_eq!(status, 400, "{name}={value}: {answer}");
        assert_eq!(answer["error"]["details"][0]["field"], name);
    }
    let (status, answer) = b.rankings(&board, &[("periodKey", "2026-W48")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["final"], true, "a past week is settled");
    assert_eq!(answer["data"]["rankings"], json!([]));
    assert_eq!(b.member_rank(&board, "nobody", "1").await.0, 404);
    assert_eq!(b.member_rank(&board, "nobody", "51").await.0, 400);
    assert_eq!(b.rankings("no-such-board", &[]).await.0, 404);
    // Another tenant's board is not found; a public key is refused.
    let other = Boards::new().await;
    assert_eq!(other.rankings(&board, &[]).await.0, 404);
    let event = events::as_caller(
        events::with_path_param(events::load("leaderboards/get.json"), "id", &board),
        &b.w.tenant.account_id,
        "live",
        "public",
    );
    assert_eq!(
        events::parse(b.boards.handle(events::request(&event)).await).0,
        403
    );
}

/// What the oracle is told: per round, some ledger entries and plays, then pauses and deletions.
#[derive(Debug, Clone)]
enum Op {
    /// Member, amount (negative: a spend, which a points board ignores).
    Entry(usize, i64),
    Play(usize),
}

const MEMBERS: usize = 5;

fn round() -> impl Strategy<Value = (Vec<Op>, Vec<usize>, Vec<usize>)> {
    let op = prop_oneof![
        // Few distinct amounts: ties are common.
        (0..MEMBERS, prop_oneof![Just(10i64), Just(20), Just(-5)])
            .prop_map(|(m, a)| Op::Entry(m, a)),
        (0..MEMBERS).prop_map(Op::Play),
    ];
    (
        prop::collection::vec(op, 1..8),
        prop::collection::vec(0..MEMBERS, 0..2),
        prop::collection::vec(0..MEMBERS, 0..2),
    )
}

/// Brute force: each member's sum of counted credits (or plays), its latest contribution's time,
/// sorted by value, then that time, then id; competition ranks.
fn oracle(
    contributions: &BTreeMap<String, Vec<(i64, String)>>,
    ids: &BTreeMap<String, String>,
) -> Vec<(u64, String, String)> {
    let mut rows: Vec<(i64, String, String, String)> = contributions
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(m, c)| {
            let value = c.iter().map(|(v, _)| v).sum();
            let at = c.iter().map(|(_, t)| t.clone()).max().unwrap_or_default();
            (value, at, ids[m].clone(), m.clone())
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out: Vec<(u64, String, String)> = Vec::new();
    for (i, (value, _, _, m)) in rows.iter().enumerate() {
        let rank = match out.last() {
            Some((r, _, v)) if *v == value.to_string() => *r,
            _ => i as u64 + 1,
        };
        out.push((rank, m.clone(), value.to_string()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn rankings_agree_with_sorting_the_ledger(rounds in prop::collection::vec(round(), 1..4)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let mut b = Boards::new().await;
            let points = b.board(json!({"name": "p", "status": "live", "metric": "points", "period": "all_time"})).await;
            let plays = b.board(json!({"name": "q", "status": "live", "metric": "plays", "period": "all_time"})).await;
            let streak = b.w.program(ProgramKind::Streak, json!({"name": "s", "status": "live", "completionTargetValue": 100, "aggregationTargetValue": 1000, "aggregationMethod": "count"})).await;
            let mut ids = BTreeMap::new();
            let mut live = [true; MEMBERS];
            let mut gone = [false; MEMBERS];
            for m in 0..MEMBERS {
                ids.insert(format!("m{m}"), b.w.member(&format!("m{m}"), "live").await);
            }
            let mut balance = [0i64; MEMBERS];
            let mut credited: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
            let mut played: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
            let mut n = 0;
            for (ops, pauses, deletions) in rounds {
                for op in ops {
                    n += 1;
                    let (m, entry) = match op {
                        Op::Entry(m, amount) => (m, Some(amount)),
                        Op::Play(m) => (m, None),
                    };
                    if gone[m] {
                        continue;
                    }
                    let owner = format!("m{m}");
                    match entry {
                        Some(amount) => {
                            // A spend the balance cannot cover is refused (tested elsewhere).
                            if balance[m] + amount < 0 {
                                continue;
                            }
                            balance[m] += amount;
                            let e = b.credit(&owner, json!(amount), &format!("k{n}")).await;
                            if amount > 0 && live[m] {
                                credited.entry(owner).or_default().push((amount, e["activityAt"].as_str().unwrap().to_string()));
                            }
                        }
                        None => {
                            // Plays at chosen instants: equal instants tie on reachedAt too.
                            let at = days_ago(1 + n % 3);
                            let body = json!({"streakId": streak, "ownedById": owner, "uniqueIdentifier": format!("k{n}"), "activityAt": at});
                            let (status, answer) = b.w.log(LogKind::Streak, body).await;
                            assert_eq!(status, 201, "{answer}");
                            if live[m] {
                                played.entry(owner).or_default().push((1, at));
                            }
                        }
                    }
                }
                b.w.drain().await;
                for m in pauses {
                    let status = if live[m] { "paused" } else { "live" };
                    if !gone[m] {
                        assert_eq!(b.w.member_route("patch.json", &format!("m{m}"), Some(json!({"status": status}))).await.0, 200);
                        live[m] = !live[m];
                    }
                }
                for m in deletions {
                    if !gone[m] {
                        assert_eq!(b.w.member_route("delete.json", &format!("m{m}"), None).await.0, 200);
                        gone[m] = true;
                        credited.remove(&format!("m{m}"));
                        played.remove(&format!("m{m}"));
                    }
                }
                b.w.drain().await;
            }
            for (board, expected) in [(&points, oracle(&credited, &ids)), (&plays, oracle(&played, &ids))] {
                let (all, page) = b.all_rankings(board, 2).await;
                assert_eq!(all, expected, "pages of 2");
                assert_eq!(page["totalParticipants"], expected.len());
                for (rank, member, value) in &expected {
                    let (status, mine) = b.member_rank(board, member, "2").await;
                    assert_eq!(status, 200, "{mine}");
                    assert_eq!((mine["rank"].as_u64(), mine["value"].to_string()), (Some(*rank), value.clone()), "{member}: {mine}");
                }
            }
        });
    }
}

/// The items naming `needle` whose sort key is `sk`, as JSON.
async fn items_with_sk(w: &World, needle: &str, sk: &str) -> Vec<Value> {
    w.items_naming(needle)
        .await
        .into_iter()
        .filter(|i| i["SK"].as_s().is_ok_and(|s| s == sk))
        .map(|i| serde_dynamo::from_item::<_, Value>(i).unwrap())
        .collect()
}

/// The clock ends a board's period (SPEC §11): at its settle time the sweep writes the period's
/// final top 10 and participants once, however many sweeps race, and the board waits on the next
/// period; before then it writes nothing.
#[tokio::test]
async fn the_sweep_announces_a_settled_period_once_with_its_top_10() {
    use chrono::{Duration, Utc};
    let mut b = Boards::new().await;
    let now = Utc::now();
    let board = b
        .board(json!({"name": "Points today", "status": "live", "metric": "points", "period": "daily"}))
        .await;
    for i in 1..=12 {
        let member = format!("fin-{i:02}");
        b.w.member(&member, "live").await;
        b.credit(&member, json!(i * 10), &format!("{member}-c"))
            .await;
    }
    b.w.drain().await;
    let today = now.date_naive();
    let finished_key = format!("FINISHED#{today}");
    let settles = (today + chrono::Days::new(1))
        .and_hms_opt(0, 5, 0)
        .unwrap()
        .and_utc();
    processor::sweep::sweep(&b.w.store, settles - Duration::seconds(1))
        .await
        .unwrap();
    assert!(
        items_with_sk(&b.w, &board, &finished_key).await.is_empty(),
        "not before it settles"
    );

    let at = settles + Duration::seconds(1);
    let (first, second) = tokio::join!(
        processor::sweep::sweep(&b.w.store, at),
        processor::sweep::sweep(&b.w.store, at)
    );
    first.unwrap();
    second.unwrap();
    processor::sweep::sweep(&b.w.store, at).await.unwrap();
    let found = items_with_sk(&b.w, &board, &finished_key).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let finished = &found[0];
    assert_eq!(finished["periodKey"], today.to_string());
    assert_eq!(finished["totalParticipants"], 12);
    assert_eq!(finished["status"], "live");
    let top: Vec<(u64, String)> = finished["rankings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rank"].as_u64().unwrap(),
                r["externalId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = (0..10)
        .map(|k| (k + 1, format!("fin-{:02}", 12 - k)))
        .collect();
    assert_eq!(top, expected);
    // The board now waits on tomorrow, on the due index at tomorrow's settle time.
    let item = &items_with_sk(&b.w, &board, "BOARD").await[0];
    let tomorrow = today + chrono::Days::new(1);
    assert_eq!(item["nextFinish"]["periodKey"], tomorrow.to_string());
    assert_eq!(
        item["dueAt"],
        domain::time::format(&(settles + Duration::days(1)))
    );
}

/// Streak and challenge boards (SPEC §11): a streak board ranks each member's current run length
/// and a challenge board the value of the member's current window, both set from the progress
/// the stream processor stores (never added up): a replay changes nothing, a backfill that
/// lengthens a run raises its score, and a tie goes to who reached the value first.
#[tokio::test]
async fn streak_and_challenge_boards_rank_current_runs_and_window_values() {
    let mut b = Boards::new().await;
    let streak = b.w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    let challenge = b.w.program(ProgramKind::Challenge, json!({"name": "monthly sum", "status": "live", "completionTargetValue": 1000, "aggregationMethod": "sum", "aggregationPeriod": "monthly"})).await;
    let runs = b
        .board(json!({"name": "Longest runs", "status": "live", "metric": "streak", "period": "all_time", "streakId": streak}))
        .await;
    let values = b
        .board(json!({"name": "Top this week", "status": "live", "metric": "challenge", "period": "weekly", "challengeId": challenge}))
        .await;
    let (status, board) = b
        .call(events::with_path_param(
            events::load("leaderboards/get.json"),
            "id",
            &runs,
        ))
        .await;
    assert_eq!(status, 200, "{board}");
    assert_eq!(board["data"]["streakId"], streak.as_str());
    assert_eq!(board["data"]["challengeId"], Value::Null);
    for m in ["ada", "bob", "cy"] {
        b.w.member(m, "live").await;
    }
    let streak_log = |owner: &str, days_back: Option<i64>, key: &str| {
        let mut body = json!({"streakId": streak, "ownedById": owner, "uniqueIdentifier": key});
        if let Some(n) = days_back {
            body["activityAt"] = days_ago(n).into();
        }
        body
    };
    // ada: three days in a row; bob: two; cy: today only.
    for (owner, days) in [
        ("ada", vec![Some(2), Some(1), None]),
        ("bob", vec![Some(1), None]),
        ("cy", vec![None]),
    ] {
        for (i, d) in days.into_iter().enumerate() {
            let (status, answer) =
                b.w.log(
                    LogKind::Streak,
                    streak_log(owner, d, &format!("{owner}-s{i}")),
                )
                .await;
            assert_eq!(status, 201, "{answer}");
        }
    }
    for (owner, amount) in [("ada", 40.5), ("bob", 90.0), ("cy", 40.5), ("bob", 5.0)] {
        let body = json!({"challengeId": challenge, "ownedById": owner, "activityValue": amount, "uniqueIdentifier": format!("{owner}-c{amount}")});
        let (status, answer) = b.w.log(LogKind::Challenge, body).await;
        assert_eq!(status, 201, "{answer}");
    }
    let batches = b.w.drain().await;
    let (standing, page) = b.all_rankings(&runs, 2).await;
    assert_eq!(
        ranks(&standing),
        [(1, "ada", "3"), (2, "bob", "2"), (3, "cy", "1")]
    );
    assert_eq!(page["totalParticipants"], 3);
    let (week, _) = b.all_rankings(&values, 10).await;
    assert_eq!(
        ranks(&week),
        [(1, "bob", "95"), (2, "ada", "40.5"), (2, "cy", "40.5")]
    );

    // The same batches again change nothing: the scores are set from stored progress, by version.
    for batch in batches {
        b.w.process(batch).await;
    }
    assert_eq!(b.all_rankings(&runs, 10).await.0, standing);
    assert_eq!(b.all_rankings(&values, 10).await.0, week);

    // cy backfills two days: her run is three long now, reached after ada's.
    for (i, n) in [2, 1].into_iter().enumerate() {
        let (status, answer) =
            b.w.log(
                LogKind::Streak,
                streak_log("cy", Some(n), &format!("cy-b{i}")),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
    }
    b.w.drain().await;
    let (after, _) = b.all_rankings(&runs, 10).await;
    assert_eq!(
        ranks(&after),
        [(1, "ada", "3"), (1, "cy", "3"), (3, "bob", "2")]
    );
    let (status, cy) = b.member_rank(&runs, "cy", "1").await;
    assert_eq!(status, 200, "{cy}");
    assert_eq!(
        (cy["rank"].clone(), cy["value"].clone()),
        (json!(1), json!(3))
    );

    // A write of an older version (a late, slower processor) never replaces a newer one.
    let cy_id = cy["ownedById"].as_str().unwrap().to_string();
    let stale = store::ScoreSet {
        owner: store::ScoreOwner {
            board_id: &runs,
            period_key: "all_time",
            member_id: &cy_id,
            external_id: "cy",
            display_name: None,
        },
        value: 1.into(),
        at: chrono::Utc::now(),
        version: 1,
    };
    let write =
        b.w.store
            .set_score(&b.w.tenant, &stale, chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!(write, store::ScoreWrite::AlreadyApplied);
    assert_eq!(b.all_rankings(&runs, 10).await.0, after);
}
