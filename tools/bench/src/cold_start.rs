//! Cold start: each function's release binary started fresh against the Runtime API emulator,
//! timed from process start to its first response, with its peak RSS; beside a minimal
//! `lambda_runtime` function built with the same profile.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use testkit::repo_root;

use crate::runtime_api::{Outcome, RuntimeApi};
use crate::stats::median;

/// Each binary with the sample event its first invocation gets (`events/`).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("hello", "members/get.json"),
    // What init costs: the reference plus our logging setup, plus our DynamoDB client.
    ("hello-logging", "members/get.json"),
    ("hello-store", "members/get.json"),
    // The fair reference for a first answer that needs the store: the client and one GetItem.
    ("hello-dynamodb", "members/get.json"),
    ("authorizer", "authorizer/secret-key.json"),
    ("members", "members/get.json"),
    ("track-user", "track-user/get.json"),
    ("programs", "programs/streak-get.json"),
    ("points", "points/get.json"),
    ("leaderboards", "leaderboards/get.json"),
    ("log-streak", "logs/streak-get.json"),
    ("log-challenge", "logs/challenge-get.json"),
    ("progress-reads", "progress/streak-progress-get.json"),
    ("webhooks", "webhooks/endpoint-get.json"),
    ("progress", "stream/batch.json"),
    // The second reader of the stream: a batch with no event an endpoint wants.
    ("webhook-delivery", "stream/batch.json"),
    // The clock's sweep: an EventBridge schedule's event (one sweep of an empty due index).
    ("clock-sweep", "clock/scheduled.json"),
    // The console: its page, gzipped, from the binary (no store call).
    ("console", "console/page.json"),
];

#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub function: String,
    pub runs: usize,
    /// From process start to the runtime's first poll for an event (Lambda's init phase).
    pub init_median_ms: f64,
    /// From process start to the first response (init + the first request, store calls included).
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Peak resident set size (VmHWM) after the first response, median of the runs.
    pub peak_rss_mb: f64,
    /// The arm64 Lambda zip (`make build-lambda`), when built.
    pub zip_bytes: Option<u64>,
}

fn binary(name: &str) -> PathBuf {
    repo_root().join("target/release").join(name)
}

fn zip_size(name: &str) -> Option<u64> {
    let path = repo_root()
        .join("target/lambda")
        .join(name)
        .join("bootstrap.zip");
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn one_run(bin: &Path, event: &[u8], dynamodb: &str, table: &str) -> Result<Run, String> {
    let mut api = RuntimeApi::start(event.to_vec())
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", store::LOCAL_REGION)
        .env("AWS_ACCESS_KEY_ID", store::LOCAL_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", store::LOCAL_ACCESS_KEY)
        .env("DYNAMODB_ENDPOINT", dynamodb)
        .env("TABLE_NAME", table)
        // Lambda refuses a cursor secret under 32 bytes at start-up (domain::cursor).
        .env("CURSOR_SECRET", "bench-cursor-secret-of-32-bytes-or-more")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    let pid = child.id().unwrap_or_default();
    let mut ready = None;
    let outcome = loop {
        let next = tokio::time::timeout(Duration::from_secs(20), api.outcome())
            .await
            .map_err(|_| format!("{} gave no answer in 20 s", bin.display()))?;
        match next {
            Some(Outcome::Ready { at }) => ready = Some(at),
            other => break other,
        }
    };
    let rss = peak_rss_mb(pid);
    let _ = child.kill().await;
    let ms = |at: Instant| (at - started).as_secs_f64() * 1000.0;
    match (outcome, ready) {
        (Some(Outcome::Response { at }), Some(ready)) => Ok(Run {
            init_ms: ms(ready),
            first_response_ms: ms(at),
            peak_rss_mb: rss,
        }),
        (Some(Outcome::Error { body }), _) => Err(format!(
            "{} reported an error: {}",
            bin.display(),
            String::from_utf8_lossy(&body)
        )),
        _ => Err(format!("{}: no response", bin.display())),
    }
}

struct Run {
    init_ms: f64,
    first_response_ms: f64,
    peak_rss_mb: f64,
}

/// `only`: the functions to measure (all when empty).
pub async fn measure(
    runs: usize,
    dynamodb: &str,
    table: &str,
    only: &[String],
) -> Result<Vec<ColdStart>, String> {
    let mut out = Vec::new();
    let wanted = FUNCTIONS
        .iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| o == name));
    for (name, event_file) in wanted {
        let bin = binary(name);
        if !bin.exists() {
            return Err(format!(
                "{} is missing: build the release binaries first (see BENCHMARKS.md)",
                bin.display()
            ));
        }
        let event = std::fs::read(repo_root().join("events").join(event_file))
            .map_err(|e| format!("{event_file}: {e}"))?;
        let mut runs_of = Vec::new();
        for _ in 0..runs {
            runs_of.push(one_run(&bin, &event, dynamodb, table).await?);
        }
        let mut times: Vec<f64> = runs_of.iter().map(|r| r.first_response_ms).collect();
        let row = ColdStart {
            function: name.to_string(),
            runs,
            init_median_ms: median(&mut runs_of.iter().map(|r| r.init_ms).collect::<Vec<_>>()),
            median_ms: median(&mut times),
            min_ms: times.iter().cloned().fold(f64::INFINITY, f64::min),
            max_ms: times.iter().cloned().fold(0.0, f64::max),
            peak_rss_mb: median(&mut runs_of.iter().map(|r| r.peak_rss_mb).collect::<Vec<_>>()),
            zip_bytes: zip_size(name),
        };
        eprintln!(
            "cold start {:>15}: init {:.2} ms, first response median {:.2} ms (min {:.2}, max {:.2}), peak RSS {:.1} MB",
            row.function, row.init_median_ms, row.median_ms, row.min_ms, row.max_ms, row.peak_rss_mb
        );
        out.push(row);
    }
    Ok(out)
}
