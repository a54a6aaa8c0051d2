//! Progress latency: a burst of logs over many members, and for each log the time from its 201
//! to the moment its progress can be read (the member's challenge window counts it).
//!
//! Two measures of "can be read": `written` — when the processor wrote the record that counts
//! the log, less the log's `createdAt` (both from the table's stream afterwards, both stamped by
//! the same clock: exact, and it puts no load on the system while it runs); and `seen` — when a
//! reader listing the challenge's progress saw it (`Reader::Dashboard`: a tenant-wide list every
//! 100 ms, the way issue 5 measured it; that reader is itself a heavy load on DynamoDB Local).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use aws_lambda_events::dynamodb::EventRecord;
use store::Store;
use testkit::stream::StreamPoller;

use crate::http_load::Client;
use crate::stats::quantile;

/// Who reads progress while the logs arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    /// The tenant's dashboard: the challenge's whole progress list every 100 ms.
    Dashboard,
    /// Nobody but a check every second that everything arrived.
    Quiet,
}

#[derive(Debug, Serialize)]
pub struct ProgressLatency {
    pub logs: usize,
    pub members: usize,
    pub senders: usize,
    /// Logs per second the senders were held to (`None`: as fast as answered).
    pub rate: Option<f64>,
    pub reader: Reader,
    /// From the log's `createdAt` to the processor's write that counts it (the stream's images).
    pub written_p50_ms: f64,
    pub written_p99_ms: f64,
    pub written_max_ms: f64,
    /// From the log's 201 to the dashboard's list showing it (`Reader::Dashboard` only).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// How long sending the burst took.
    pub burst_ms: f64,
    /// Logs the processor counted a second, from the first log's `createdAt` to the last write.
    pub processed_per_s: f64,
    /// Every write of the burst, as the table's stream carries it.
    #[serde(skip)]
    pub writes: Vec<EventRecord>,
}

/// `rate`: logs per second over all senders (`None`: as fast as they get answers).
#[allow(clippy::too_many_arguments)]
pub fn measure(
    client: &Client,
    store: &Store,
    endpoint: &str,
    logs: usize,
    members: usize,
    senders: usize,
    rate: Option<f64>,
    reader: Reader,
) -> ProgressLatency {
    // A challenge that never completes: its window value is the number of logs counted.
    let (status, challenge) = client.call(
        "POST",
        "/schema/challenge/record",
        Some(&json!({"name": "bench", "status": "live", "aggregationMethod": "count", "aggregationPeriod": "monthly", "completionTargetValue": 1_000_000_000})),
    );
    assert_eq!(status, 201, "{challenge}");
    let challenge_id = challenge["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let member_ids: Vec<String> = (0..members)
        .map(|m| {
            let body = json!({"externalId": format!("lat-{run}-{m}")});
            let (_, answer) = client.call("POST", "/v1/user-journeys/users", Some(&body));
            answer["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();

    // The table's stream from here on: what the burst writes (read after it, at no cost to it).
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    // A client of this runtime (a client keeps connections on the runtime that opened them).
    let stream_store = Store::new(Store::local_client(endpoint), store.table());
    let mut poller = runtime
        .block_on(StreamPoller::new(&stream_store, endpoint))
        .expect("the table's stream")
        .with_batch_size(1000);
    runtime.block_on(drain(&mut poller));

    // When each member's k-th log got its 201, and when its window was first seen at ≥ k.
    let sent: Arc<Mutex<HashMap<(usize, usize), Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<(usize, usize), Instant>>> = Arc::default();
    let per_member = logs / members;
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let watcher = {
        let (client, seen, done, challenge_id) = (
            client.clone(),
            seen.clone(),
            done.clone(),
            challenge_id.clone(),
        );
        let index: HashMap<String, usize> = member_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                let (_, page) = client.call(
                    "GET",
                    &format!(
                        "/schema/challenge_progress/record?challengeId={challenge_id}&limit=1000"
                    ),
                    None,
                );
                let now = Instant::now();
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                for record in page["data"].as_array().into_iter().flatten() {
                    let Some(&m) = record["ownedById"].as_str().and_then(|id| index.get(id)) else {
                        continue;
                    };
                    let value = record["currentProgressValue"].as_u64().unwrap_or(0) as usize;
                    for k in 1..=value.min(per_member) {
                        seen.entry((m, k)).or_insert(now);
                    }
                }
                let complete = seen.len() >= members * per_member;
                drop(seen);
                if complete && done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                // A dashboard polling every 100 ms: fine enough for the percentiles, without the
                // watcher itself loading DynamoDB Local like another hundred users.
                std::thread::sleep(Duration::from_millis(match reader {
                    Reader::Dashboard => 100,
                    Reader::Quiet => 1000,
                }));
            }
        })
    };

    let senders_handles: Vec<_> = (0..senders)
        .map(|s| {
            let (client, sent, challenge_id, run) =
                (client.clone(), sent.clone(), challenge_id.clone(), run.clone());
            let mine: Vec<usize> = (0..members).filter(|m| m % senders == s).collect();
            std::thread::spawn(move || {
                // Each member's logs in order, members interleaved; paced, each sender keeps its
                // share of the rate.
                let interval = rate.map(|r| Duration::from_secs_f64(senders as f64 / r));
                let start = Instant::now();
                let mut sent_count = 0u32;
                for k in 1..=per_member {
                    for &m in &mine {
                        if let Some(interval) = interval {
                            let due = start + interval * sent_count;
                            std::thread::sleep(due.saturating_duration_since(Instant::now()));
                            sent_count += 1;
                        }
                        let body = json!({"challengeId": challenge_id, "ownedById": format!("lat-{run}-{m}"), "uniqueIdentifier": format!("{m}-{k}"), "activityAt": domain::time::format(&domain::time::now())});
                        let (status, answer) = client.call("POST", "/schema/challenge_log/record", Some(&body));
                        assert_eq!(status, 201, "{answer}");
                        sent.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert((m, k), Instant::now());
                    }
                }
            })
        })
        .collect();
    for h in senders_handles {
        let _ = h.join();
    }
    let burst = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watcher.join();

    // The last analytics write follows the window's by a round trip or two.
    std::thread::sleep(Duration::from_millis(500));
    let writes = runtime.block_on(drain(&mut poller));
    let sent = sent.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut latencies: Vec<f64> = sent
        .iter()
        .map(|(key, at)| {
            seen.get(key)
                .map(|s| s.saturating_duration_since(*at).as_secs_f64() * 1000.0)
                .unwrap_or(f64::INFINITY)
        })
        .collect();
    let index: HashMap<&str, usize> = member_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let written = written_latencies(&writes, &challenge_id, &index, per_member);
    let mut written_ms = written.latencies;
    let dashboard = reader == Reader::Dashboard;
    let result = ProgressLatency {
        logs: sent.len(),
        members,
        senders,
        rate,
        reader,
        written_p50_ms: quantile(&mut written_ms, 0.5),
        written_p99_ms: quantile(&mut written_ms, 0.99),
        written_max_ms: quantile(&mut written_ms, 1.0),
        p50_ms: dashboard.then(|| quantile(&mut latencies, 0.5)),
        p99_ms: dashboard.then(|| quantile(&mut latencies, 0.99)),
        max_ms: dashboard.then(|| quantile(&mut latencies, 1.0)),
        burst_ms: burst.as_secs_f64() * 1000.0,
        processed_per_s: written.processed_per_s,
        writes,
    };
    eprintln!(
        "progress latency ({:?}, {}): {} logs over {} members sent in {:.0} ms; written p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; seen p50 {:.0?} p99 {:.0?}; processed {:.0} logs/s",
        reader,
        rate.map_or("unpaced".to_string(), |r| format!("{r} logs/s")),
        result.logs, result.members, result.burst_ms, result.written_p50_ms, result.written_p99_ms,
        result.written_max_ms, result.p50_ms, result.p99_ms, result.processed_per_s
    );
    result
}

struct Written {
    latencies: Vec<f64>,
    processed_per_s: f64,
}

/// Reads the stream to its end (every shard until a poll finds nothing).
async fn drain(poller: &mut StreamPoller) -> Vec<EventRecord> {
    let mut records = Vec::new();
    loop {
        let batch = poller.poll().await.expect("the stream reads");
        if batch.records.is_empty() {
            return records;
        }
        records.extend(batch.records);
    }
}

/// From the burst's writes: each log's `createdAt`, and each write of a member's window with its
/// value and `updatedAt`. The k-th log of a member counts once a write shows a value ≥ k (a
/// member's logs are sent one after the other, so the k-th created is the k-th sent).
fn written_latencies(
    writes: &[EventRecord],
    challenge_id: &str,
    members: &HashMap<&str, usize>,
    per_member: usize,
) -> Written {
    let images: Vec<serde_json::Value> = writes
        .iter()
        .filter_map(|r| serde_dynamo::from_item(r.change.new_image.clone()).ok())
        .collect();
    let time = |v: &serde_json::Value, name: &str| {
        v[name]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let mut created: HashMap<usize, Vec<chrono::DateTime<chrono::Utc>>> = HashMap::new();
    let mut window_writes: HashMap<usize, Vec<(u64, chrono::DateTime<chrono::Utc>)>> =
        HashMap::new();
    let ours = |i: &&serde_json::Value| {
        i["challengeId"] == challenge_id
            || (i["SK"] == store::LOG_SK && i["programId"] == challenge_id)
    };
    for image in images.iter().filter(ours) {
        let Some(&m) = image["ownedById"].as_str().and_then(|id| members.get(id)) else {
            continue;
        };
        if image["SK"] == store::LOG_SK {
            // A log carries its program as `programId`; progress records as `challengeId`.
            created
                .entry(m)
                .or_default()
                .extend(time(image, "createdAt"));
        } else if let (Some(value), Some(at)) = (
            image["currentProgressValue"].as_u64(),
            time(image, "updatedAt"),
        ) {
            window_writes.entry(m).or_default().push((value, at));
        }
    }
    let first = created.values().flatten().min().copied();
    let mut latencies = Vec::new();
    let mut last = None;
    for (m, mut logs) in created {
        logs.sort();
        let member_writes = window_writes.remove(&m).unwrap_or_default();
        for (k, log_at) in logs.iter().take(per_member).enumerate() {
            let counted = member_writes
                .iter()
                .filter(|(value, _)| *value as usize > k)
                .map(|(_, at)| *at)
                .min();
            latencies.push(match counted {
                Some(at) => {
                    last = last.max(Some(at));
                    (at - *log_at).num_microseconds().unwrap_or(0) as f64 / 1000.0
                }
                None => f64::INFINITY,
            });
        }
    }
    let span = match (first, last) {
        (Some(f), Some(l)) => (l - f).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    Written {
        processed_per_s: if span > 0.0 {
            latencies.iter().filter(|l| l.is_finite()).count() as f64 / span
        } else {
            0.0
        },
        latencies,
    }
}
