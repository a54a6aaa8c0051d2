//! Progress latency: a burst of logs over many members, and for each log the time from its 201
//! to the moment its progress can be read (the member's challenge window counts it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::http_load::Client;
use crate::stats::quantile;

#[derive(Debug, Serialize)]
pub struct ProgressLatency {
    pub logs: usize,
    pub members: usize,
    pub senders: usize,
    /// Logs per second the senders were held to (`None`: as fast as answered).
    pub rate: Option<f64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// How long sending the burst took.
    pub burst_ms: f64,
}

/// `rate`: logs per second over all senders (`None`: as fast as they get answers).
pub fn measure(
    client: &Client,
    logs: usize,
    members: usize,
    senders: usize,
    rate: Option<f64>,
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
                // A reader polling every 100 ms: fine enough for the percentiles, without the
                // watcher itself loading DynamoDB Local like another hundred users.
                std::thread::sleep(Duration::from_millis(100));
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
    let result = ProgressLatency {
        logs: sent.len(),
        members,
        senders,
        rate,
        p50_ms: quantile(&mut latencies, 0.5),
        p99_ms: quantile(&mut latencies, 0.99),
        max_ms: quantile(&mut latencies, 1.0),
        burst_ms: burst.as_secs_f64() * 1000.0,
    };
    eprintln!(
        "progress latency: {} logs over {} members in {:.0} ms; p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        result.logs, result.members, result.burst_ms, result.p50_ms, result.p99_ms, result.max_ms
    );
    result
}
