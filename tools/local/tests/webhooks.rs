//! Webhooks end to end over HTTP (SPEC §9): the local run delivers member, progress and reward
//! events to a receiver that verifies each with the Standard Webhooks library (PyPI
//! `standardwebhooks`, `docs/examples/webhook_receiver.py`) and fails the first two attempts of
//! each: every event arrives, retried under the same `webhook-id`, and succeeds exactly once.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{call, start_with};
use serde_json::{json, Value};

struct Receiver {
    child: Child,
    log: std::path::PathBuf,
    secret: std::path::PathBuf,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(dir: &std::path::Path, fail_first: u32) -> Self {
        let port = testkit::free_port().unwrap();
        let (log, secret) = (dir.join("deliveries.jsonl"), dir.join("secret"));
        let root = testkit::repo_root();
        let child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("docs/examples/webhook_receiver.py"))
            .args([
                port.to_string(),
                secret.display().to_string(),
                log.display().to_string(),
                fail_first.to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("python from .venv (scripts/setup.sh --python)");
        Receiver {
            child,
            log,
            secret,
            url: format!("http://127.0.0.1:{port}/hooks"),
        }
    }

    /// Creates an endpoint to this receiver (for `events`, or every event when `None`) and gives
    /// the receiver its signing secret; answers the endpoint.
    fn subscribe(
        &self,
        post: impl Fn(&str, Value) -> (u16, Value),
        events: Option<Value>,
    ) -> Value {
        let mut body = json!({"url": self.url});
        if let Some(events) = events {
            body["events"] = events;
        }
        let (status, endpoint) = post("/v1/webhooks/endpoints", body);
        assert_eq!(status, 201, "{endpoint}");
        let secret = endpoint["data"]["secret"].as_str().unwrap();
        std::fs::write(&self.secret, secret).unwrap();
        endpoint
    }

    /// Every request it received, in order.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `n` distinct events were accepted (200).
    fn wait_for(&self, n: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let requests = self.requests();
            let accepted = requests.iter().filter(|r| r["status"] == 200).count();
            if accepted >= n {
                return requests;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{accepted} of {n} delivered: {requests:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A second sweeper that races the local run's, at the same clock (`ahead` seconds in front of
/// the real one), until stopped.
struct RacingSweep {
    racing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl RacingSweep {
    fn start(run: &common::LocalRun, ahead: i64) -> Self {
        let racing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (flag, endpoint) = (racing.clone(), run.dynamodb.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let store = store::Store::new(store::Store::local_client(&endpoint), "gamify");
                while flag.load(std::sync::atomic::Ordering::Relaxed) {
                    let at = domain::time::now() + chrono::Duration::seconds(ahead);
                    let _ = processor::sweep::sweep(&store, at).await;
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
            })
        });
        RacingSweep { racing, thread }
    }

    fn stop(self) {
        self.racing
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap();
    }
}

/// Each accepted request by event id; fails if an event was accepted twice.
fn accepted_once(requests: &[Value]) -> BTreeMap<String, &Value> {
    let mut by_id: BTreeMap<String, &Value> = BTreeMap::new();
    for r in requests {
        assert_eq!(r["status"], 200, "{r}");
        assert!(
            by_id
                .insert(r["id"].as_str().unwrap().to_string(), r)
                .is_none(),
            "delivered twice: {r}"
        );
    }
    by_id
}

/// The clock ends a board's period over HTTP (SPEC §11): once the day has settled (5 minutes
/// after midnight, by the sweep's clock run ahead), `leaderboard.finished` arrives once with the
/// final top 10 of a live board, in the shape openapi.yaml gives it; a paused board and an
/// all-time board send nothing. A second sweep races the local run's the whole time.
#[test]
fn a_boards_period_is_announced_once_with_its_top_10_when_it_settles() {
    let dir = std::env::temp_dir().join(format!("gamify-board-end-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start(&dir, 0);
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let settles = (today + chrono::Days::new(1))
        .and_hms_opt(0, 5, 0)
        .unwrap()
        .and_utc();
    // The sweep's clock reaches the settle time this long after the run starts.
    let ahead = (settles - now - chrono::Duration::seconds(25))
        .num_seconds()
        .max(0);
    let run = start_with(
        None,
        &[("GAMIFY_CLOCK_AHEAD_SECONDS", &ahead.to_string())],
        Stdio::null(),
    );
    let (admin, base, post) = (run.admin(), &run.base, poster(&run));
    receiver.subscribe(&post, Some(json!(["leaderboard.finished"])));
    let board = |name: &str, status: &str, period: &str| {
        let (code, b) = post(
            "/schema/leaderboard/record",
            json!({"name": name, "status": status, "metric": "points", "period": period}),
        );
        assert_eq!(code, 201, "{b}");
        b["data"]["id"].as_str().unwrap().to_string()
    };
    let daily = board("Today's points", "live", "daily");
    board("Paused", "paused", "daily");
    board("Ever", "live", "all_time");
    // Twelve members with 10, 20, … 120 points today; the two lowest are outside the top 10.
    for i in 1..=12 {
        let member = format!("board-end-{i:02}");
        let (code, answer) = post(
            "/schema/account_user/record",
            json!({"externalId": member, "status": "live", "displayName": format!("Player {i}")}),
        );
        assert_eq!(code, 201, "{answer}");
        let (code, answer) = post(
            "/schema/points_log/record",
            json!({"ownedById": member, "amount": i * 10, "reason": "test", "uniqueIdentifier": format!("{member}-credit")}),
        );
        assert_eq!(code, 201, "{answer}");
    }
    let racer = RacingSweep::start(&run, ahead);
    receiver.wait_for(1);
    std::thread::sleep(Duration::from_secs(3));
    racer.stop();
    let requests = receiver.requests();
    let by_id = accepted_once(&requests);
    assert_eq!(by_id.len(), 1, "{requests:#?}");
    let event = &by_id.values().next().unwrap()["event"];
    assert_eq!(event["type"], "leaderboard.finished");
    let data = &event["data"];
    assert_eq!(data["leaderboardId"], daily.as_str(), "{data}");
    assert_eq!(data["periodKey"], today.to_string());
    assert_eq!(data["totalParticipants"], 12);
    let rankings = data["rankings"].as_array().unwrap();
    let shown: Vec<(u64, &str, u64)> = rankings
        .iter()
        .map(|r| {
            (
                r["rank"].as_u64().unwrap(),
                r["externalId"].as_str().unwrap(),
                r["value"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u64, String, u64)> = (0..10)
        .map(|k| (k + 1, format!("board-end-{:02}", 12 - k), (12 - k) * 10))
        .collect();
    let expected: Vec<(u64, &str, u64)> = expected
        .iter()
        .map(|(r, m, v)| (*r, m.as_str(), *v))
        .collect();
    assert_eq!(shown, expected);
    common::check_against_openapi(
        "#/webhooks/leaderboard.finished/post/requestBody/content/application~1json/schema",
        event,
    );
    // The period's standings stay readable by its key.
    let (status, standings) = call(
        "GET",
        &format!("{base}/schema/leaderboard/record/{daily}/rankings?periodKey={today}&limit=3"),
        &admin,
        None,
    );
    assert_eq!(status, 200, "{standings}");
    assert_eq!(standings["data"]["rankings"][0]["value"], 120);
    let _ = std::fs::remove_dir_all(&dir);
}

/// POSTs a JSON body with the demo account's secret key.
fn poster(run: &common::LocalRun) -> impl Fn(&str, Value) -> (u16, Value) + '_ {
    let admin = run.admin();
    move |path, body| {
        call(
            "POST",
            &format!("{}{path}", run.base),
            &admin,
            Some(&body.to_string()),
        )
    }
}

#[test]
fn events_arrive_signed_retried_under_one_id_and_accepted_once() {
    let dir = std::env::temp_dir().join(format!("gamify-webhooks-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start(&dir, 2);
    let run = start_with(
        None,
        &[("WEBHOOK_RETRY_DELAYS", "0.3,0.3,0.3,0.3")],
        Stdio::null(),
    );
    let admin = run.admin();
    let base = &run.base;
    let post = poster(&run);

    let endpoint = receiver.subscribe(&post, None);

    // A member, a one-day streak with a milestone at day 1, and a log that completes both.
    assert_eq!(
        post(
            "/schema/account_user/record",
            json!({"externalId": "hook-1", "status": "live"})
        )
        .0,
        201
    );
    let (_, streak) = post(
        "/schema/streak/record",
        json!({"name": "One day", "status": "live", "completionTargetValue": 1, "aggregationTargetValue": 1}),
    );
    let streak_id = streak["data"]["id"].as_str().unwrap();
    let milestone = json!({"name": "Day one", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak_id, "milestoneTargetValue": 1, "rewardPoints": 5});
    assert_eq!(post("/schema/milestone/record", milestone).0, 201);
    let log = json!({"streakId": streak_id, "ownedById": "hook-1", "activityAt": domain::time::format(&domain::time::now()), "activityValue": 1});
    assert_eq!(post("/schema/streak_log/record", log).0, 201);

    let requests = receiver.wait_for(3);
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &requests {
        assert_eq!(r["verified"], true, "every attempt verifies: {r}");
        assert_eq!(r["verifiedWith"], "standardwebhooks", "{r}");
        by_id
            .entry(r["id"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    let types: Vec<&str> = by_id
        .values()
        .map(|attempts| attempts[0]["event"]["type"].as_str().unwrap())
        .collect();
    for expected in [
        "member.created",
        "streak_progress.completed",
        "reward_log.created",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    for (id, attempts) in &by_id {
        let statuses: Vec<u64> = attempts
            .iter()
            .map(|a| a["status"].as_u64().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [500, 500, 200],
            "{id}: two failures, then one success, same id"
        );
    }
    let member_created = by_id
        .values()
        .find(|a| a[0]["event"]["type"] == "member.created")
        .unwrap();
    assert_eq!(member_created[0]["event"]["data"]["externalId"], "hook-1");

    // The delivery log says the same; a replay sends one again under its id; a test event arrives.
    let endpoint_id = endpoint["data"]["id"].as_str().unwrap();
    let deliveries_url = format!("{base}/v1/webhooks/endpoints/{endpoint_id}/deliveries");
    let (status, log) = call("GET", &deliveries_url, &admin, None);
    assert_eq!(status, 200, "{log}");
    let logged = log["data"].as_array().unwrap();
    assert_eq!(logged.len(), 3, "{log}");
    for d in logged {
        assert_eq!(
            (
                d["status"].as_str(),
                d["attempts"].as_u64(),
                d["lastResponseCode"].as_u64()
            ),
            (Some("succeeded"), Some(3), Some(200)),
            "{d}"
        );
        assert!(by_id.contains_key(d["id"].as_str().unwrap()));
    }
    let replayed = logged[0]["id"].as_str().unwrap().to_string();
    let (status, answer) = post(
        &format!("/v1/webhooks/endpoints/{endpoint_id}/deliveries/{replayed}/replay"),
        json!({}),
    );
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = post(
        &format!("/v1/webhooks/endpoints/{endpoint_id}/test"),
        json!({}),
    );
    assert_eq!(status, 202, "{answer}");
    let requests = receiver.wait_for(4);
    let again: Vec<&Value> = requests
        .iter()
        .filter(|r| r["id"] == replayed.as_str())
        .collect();
    assert_eq!(again.last().unwrap()["status"], 200, "{again:#?}");
    assert_eq!(again.len(), 4, "three attempts and the replay");
    let requests = receiver.wait_for(5);
    let test: Vec<u64> = requests
        .iter()
        .filter(|r| r["event"]["type"] == "webhook.test")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        test,
        [500, 500, 200],
        "the test event, retried like any other"
    );

    // Deleting the member is one more event.
    let (status, _) = call(
        "DELETE",
        &format!("{base}/schema/account_user/record/hook-1"),
        &admin,
        None,
    );
    assert_eq!(status, 200);
    let requests = receiver.wait_for(6);
    let deleted: Vec<&Value> = requests
        .iter()
        .filter(|r| r["event"]["type"] == "member.deleted" && r["status"] == 200)
        .collect();
    assert_eq!(deleted.len(), 1, "{requests:#?}");
    assert_eq!(deleted[0]["event"]["data"]["externalId"], "hook-1");
    std::thread::sleep(Duration::from_secs(2));
    let accepted = receiver
        .requests()
        .iter()
        .filter(|r| r["status"] == 200)
        .count();
    assert_eq!(accepted, 6, "nothing more arrives");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The clock acts over HTTP (SPEC §10), with no log after the setup: a run at risk is nudged
/// once, a run whose day ended is stored `broken` and its event arrives, a freeze keeps another
/// run over the missed day and its event arrives. The local run's sweep runs ahead of the real
/// clock (`GAMIFY_CLOCK_AHEAD_SECONDS`) so that today's UTC midnight comes some 25 seconds after
/// the start; a second sweep from this test races it the whole time, and each event still
/// arrives once.
#[test]
fn the_clock_nudges_breaks_and_freezes_runs_without_a_log() {
    let dir = std::env::temp_dir().join(format!("gamify-clock-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start(&dir, 0);
    let now = chrono::Utc::now();
    let midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    // The sweep's clock reaches midnight this long after the run starts.
    let lag = chrono::Duration::seconds(25);
    let ahead = (midnight - now - lag).num_seconds().max(0);
    let run = start_with(
        None,
        &[("GAMIFY_CLOCK_AHEAD_SECONDS", &ahead.to_string())],
        Stdio::null(),
    );
    let admin = run.admin();
    let base = &run.base;
    let post = poster(&run);
    receiver.subscribe(
        &post,
        Some(json!([
            "streak_progress.at_risk",
            "streak_progress.broken",
            "streak_progress.freeze_used",
            "streak_progress.restored"
        ])),
    );
    let streak = |name: &str, max_freezes: u32| {
        let (status, s) = post(
            "/schema/streak/record",
            json!({"name": name, "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "maxFreezes": max_freezes}),
        );
        assert_eq!(status, 201, "{s}");
        s["data"]["id"].as_str().unwrap().to_string()
    };
    let (plain, frozen) = (streak("Plain", 0), streak("With a freeze", 1));
    // Yesterday done in both (a backfill): each run waits on today, which ends at midnight UTC.
    let yesterday = domain::time::format(&(now - chrono::Duration::hours(24)));
    for (member, streak_id) in [("clock-a", &plain), ("clock-b", &frozen)] {
        let log = json!({"streakId": streak_id, "ownedBy": {"externalId": member}, "activityAt": yesterday, "activityValue": 1, "uniqueIdentifier": format!("{member}-y")});
        let (status, answer) = post("/schema/streak_log/record", log);
        assert_eq!(status, 201, "{answer}");
    }
    let grant = json!({"streakId": frozen, "ownedById": "clock-b", "count": 1, "uniqueIdentifier": "clock-b-promo"});
    let (status, answer) = post("/schema/streak_freeze/record", grant);
    assert_eq!(status, 201, "{answer}");

    let racer = RacingSweep::start(&run, ahead);
    // Two nudges (the sweep's clock is already past 240 minutes before midnight), one break, one
    // freeze used.
    receiver.wait_for(4);
    std::thread::sleep(Duration::from_secs(3));
    racer.stop();
    // Each event arrived once: one accepted request per event id, nothing more.
    let requests = receiver.requests();
    let by_id = accepted_once(&requests);
    assert_eq!(by_id.len(), 4, "{requests:#?}");
    let of_type = |t: &str| -> Vec<&Value> {
        by_id
            .values()
            .filter(|r| r["event"]["type"] == t)
            .map(|r| &r["event"]["data"])
            .collect()
    };
    let at_risk = of_type("streak_progress.at_risk");
    assert_eq!(at_risk.len(), 2, "{requests:#?}");
    for nudge in &at_risk {
        assert_eq!(nudge["periodEnd"], domain::time::format(&midnight));
        assert_eq!(nudge["remainingValue"], 1);
    }
    let broken = of_type("streak_progress.broken");
    assert_eq!(broken.len(), 1, "{requests:#?}");
    assert_eq!(broken[0]["streakId"], plain.as_str());
    assert_eq!(broken[0]["streakBrokenAt"], domain::time::format(&midnight));
    let used = of_type("streak_progress.freeze_used");
    assert_eq!(used.len(), 1, "{requests:#?}");
    assert_eq!(used[0]["streakId"], frozen.as_str());
    assert_eq!(used[0]["streakProgressStatus"], "in_progress");
    assert_eq!(used[0]["freezesAvailable"], 0);
    assert_eq!(
        used[0]["frozenPeriods"],
        json!([midnight.date_naive().pred_opt().unwrap().to_string()])
    );
    assert!(of_type("streak_progress.restored").is_empty());
    // The API agrees: the plain run is stored broken, the frozen one goes on with its freeze used.
    let (status, list) = call(
        "GET",
        &format!("{base}/schema/account_user/record/clock-b/streak_progress"),
        &admin,
        None,
    );
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["freezesUsed"], 1, "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}
