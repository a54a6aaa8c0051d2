//! Starts the local run (`gamify-local`, its own DynamoDB Local on free ports) for tests that use
//! it over HTTP, as a client would.
#![allow(dead_code)] // each test binary uses a part of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct LocalRun {
    child: Child,
    pub base: String,
    pub demo: Value,
    pub dynamodb: String,
}

impl Drop for LocalRun {
    fn drop(&mut self) {
        // SIGTERM, as Ctrl-C would: the run stops DynamoDB Local itself.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// `data_dir`: where the run keeps its data (`GAMIFY_DATA_DIR`); `None` runs in memory.
pub fn start(data_dir: Option<&Path>) -> LocalRun {
    let port = shared::local::free_port().unwrap();
    let dynamo_port = shared::local::free_port().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamify-local"));
    match data_dir {
        Some(dir) => command.env("GAMIFY_DATA_DIR", dir),
        None => command.arg("--in-memory"),
    };
    let mut child = command
        .env("PORT", port.to_string())
        .env("DYNAMODB_PORT", dynamo_port.to_string())
        .env_remove("DYNAMODB_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gamify-local");
    let stdout = child.stdout.take().unwrap();
    let started = Instant::now();
    let mut demo = Value::Null;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(json) = line.split_once(": {").map(|(_, rest)| format!("{{{rest}")) {
            if line.starts_with("Demo account") {
                demo = serde_json::from_str(&json).unwrap();
            }
        }
        if line.contains("ready") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the local run did not get ready"
        );
    }
    assert!(demo.is_object(), "the demo account's keys are printed");
    LocalRun {
        child,
        base: format!("http://127.0.0.1:{port}"),
        demo,
        dynamodb: format!("http://127.0.0.1:{dynamo_port}"),
    }
}
