//! Throughput and latency over HTTP against the local run (`gamify-local`, release build), beside
//! the same DynamoDB operations issued straight to DynamoDB Local: the local physical limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::tenant::Tenant;
use serde::Serialize;
use serde_json::{json, Value};
use store::Store;

use crate::stats::quantile;

#[derive(Debug, Serialize)]
pub struct Load {
    pub route: String,
    /// `http` through the gateway and functions, or `dynamodb` for the raw calls.
    pub path: String,
    pub concurrency: usize,
    pub requests: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Members the streak-log load spreads over.
const LOG_MEMBERS: u64 = 100;

/// The admin credentials and base URL of a local run.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: String,
    pub secret: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, key: &str, secret: &str) -> Self {
        Client {
            base: base.to_string(),
            key: key.to_string(),
            secret: secret.to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .max_idle_connections_per_host(64)
                .build(),
        }
    }

    /// One call; the status and the parsed body.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let req = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("x-api-key", &self.key)
            .set("x-api-secret", &self.secret)
            .set("content-type", "application/json");
        let result = match body {
            Some(b) => req.send_string(&b.to_string()),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return (0, Value::String(e.to_string())),
        };
        let status = resp.status();
        let value = resp.into_json().unwrap_or(Value::Null);
        (status, value)
    }
}

/// Runs `work(i)` from `concurrency` threads for `duration`; each call returns whether it
/// succeeded. Returns the latencies (ms) of successful calls and the elapsed time.
fn drive<F>(concurrency: usize, duration: Duration, work: F) -> (Vec<f64>, Duration)
where
    F: Fn(u64) -> bool + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (work, counter) = (work.clone(), counter.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                while started.elapsed() < duration {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    if work(i) {
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().unwrap_or_default());
    }
    (all, started.elapsed())
}

fn summarize(
    route: &str,
    path: &str,
    concurrency: usize,
    mut lat: Vec<f64>,
    elapsed: Duration,
) -> Load {
    let load = Load {
        route: route.to_string(),
        path: path.to_string(),
        concurrency,
        requests: lat.len(),
        rps: lat.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: quantile(&mut lat, 0.5),
        p99_ms: quantile(&mut lat, 0.99),
    };
    eprintln!(
        "{:>14} {:>8} c={:<3} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        load.route, load.path, load.concurrency, load.rps, load.p50_ms, load.p99_ms
    );
    load
}

/// The three hot routes over HTTP and their DynamoDB calls directly, at each concurrency.
pub fn measure(
    client: &Client,
    store: &Store,
    tenant: &Tenant,
    streak_id: &str,
    concurrencies: &[usize],
    duration: Duration,
) -> Vec<Load> {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let member = json!({"externalId": "bench-member", "displayName": "Bench"});
    assert_eq!(
        client
            .call("POST", "/v1/user-journeys/users", Some(&member))
            .0,
        200
    );
    let program = runtime
        .block_on(store.get_program(tenant, streak_id))
        .ok()
        .flatten()
        .expect("the bench streak");
    // Logs go to many members, as real traffic does (one member's logs would contend on its
    // items and measure that instead).
    for m in 0..LOG_MEMBERS {
        let body = json!({"externalId": format!("bench-{m}")});
        assert_eq!(
            client
                .call("POST", "/v1/user-journeys/users", Some(&body))
                .0,
            200
        );
    }
    let runtime = Arc::new(runtime);
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let mut out = Vec::new();
    for &c in concurrencies {
        // Member GET: one GetItem.
        let http = client.clone();
        let (lat, t) = drive(c, duration, move |_| {
            http.call("GET", "/schema/account_user/record/bench-member", None)
                .0
                == 200
        });
        out.push(summarize("member GET", "http", c, lat, t));
        let (s, tn, rt) = (store.clone(), tenant.clone(), runtime.clone());
        let (lat, t) = drive(c, duration, move |_| {
            rt.block_on(s.member_by_external_id(&tn, "bench-member"))
                .is_ok()
        });
        out.push(summarize("member GET", "dynamodb", c, lat, t));

        // Track-user POST of an existing member: one UpdateItem.
        let http = client.clone();
        let (lat, t) = drive(c, duration, move |i| {
            let body = json!({"externalId": "bench-member", "displayName": format!("Bench {i}")});
            http.call("POST", "/v1/user-journeys/users", Some(&body)).0 == 200
        });
        out.push(summarize("track-user POST", "http", c, lat, t));
        let (s, tn, rt) = (store.clone(), tenant.clone(), runtime.clone());
        let (lat, t) = drive(c, duration, move |i| {
            let input: domain::member::MemberInput =
                serde_json::from_value(json!({"displayName": format!("Bench {i}")}))
                    .unwrap_or_default();
            rt.block_on(s.update_member(&tn, "bench-member", &input, domain::time::now(), true))
                .is_ok()
        });
        out.push(summarize("track-user POST", "dynamodb", c, lat, t));

        // Streak log POST: the program and the member read, one conditional PutItem.
        let http = client.clone();
        let (sid, rid) = (streak_id.to_string(), run_id.clone());
        let (lat, t) = drive(c, duration, move |i| {
            let owner = format!("bench-{}", i % LOG_MEMBERS);
            let body = json!({"streakId": sid, "ownedById": owner, "uniqueIdentifier": format!("http-{rid}-{c}-{i}"), "activityValue": 1, "activityAt": domain::time::format(&domain::time::now())});
            http.call("POST", "/schema/streak_log/record", Some(&body))
                .0
                == 201
        });
        out.push(summarize("streak log POST", "http", c, lat, t));
        let (s, tn, rt, rid) = (
            store.clone(),
            tenant.clone(),
            runtime.clone(),
            run_id.clone(),
        );
        let program_id = program.id.clone();
        let (lat, t) = drive(c, duration, move |i| {
            rt.block_on(async {
                let now = domain::time::now();
                let _ = s.get_program(&tn, &program_id).await;
                let owner = format!("bench-{}", i % LOG_MEMBERS);
                let Ok(Some(member)) = s.member_by_external_id(&tn, &owner).await else {
                    return false;
                };
                let log = domain::log::ActivityLog {
                    id: uuid::Uuid::now_v7().to_string(),
                    kind: domain::log::LogKind::Streak,
                    program_id: program_id.clone(),
                    owned_by_id: member.id,
                    activity_at: now,
                    activity_id: None,
                    unique_identifier: format!("raw-{rid}-{c}-{i}"),
                    activity_value: None,
                    counts_toward_progress: true,
                    request_hash: String::new(),
                    created_at: now,
                    updated_at: now,
                    program_version: None,
                };
                s.insert_log(&tn, &log, None).await.is_ok()
            })
        });
        out.push(summarize("streak log POST", "dynamodb", c, lat, t));
    }
    out
}
