//! Starts the local run (`gamify-local`, its own DynamoDB Local on free ports) for tests that use
//! it over HTTP, as a client would.
#![allow(dead_code)] // each test binary uses a part of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct LocalRun {
    pub child: Child,
    pub base: String,
    pub demo: Value,
    pub dynamodb: String,
    /// What it printed up to `ready`.
    pub printed: Vec<String>,
}

impl LocalRun {
    /// The demo account's live API key, secret and public key.
    pub fn live_keys(&self) -> (&str, &str, &str) {
        let live = &self.demo["live"];
        let key = |name: &str| live[name].as_str().expect("the demo account's keys");
        (key("apiKey"), key("apiSecret"), key("publicKey"))
    }

    /// Headers of a JSON request with the demo account's live secret key.
    pub fn admin(&self) -> [(&'static str, &str); 3] {
        let (key, secret, _) = self.live_keys();
        [
            ("x-api-key", key),
            ("x-api-secret", secret),
            ("content-type", "application/json"),
        ]
    }
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
    start_with(data_dir, &[], Stdio::null())
}

/// `start`, with more environment (`DYNAMODB_ENDPOINT` to use a DynamoDB Local the test runs)
/// and somewhere for the run's standard error to go.
pub fn start_with(data_dir: Option<&Path>, env: &[(&str, &str)], stderr: Stdio) -> LocalRun {
    let port = testkit::free_port().unwrap();
    let dynamo_port = testkit::free_port().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamify-local"));
    match data_dir {
        Some(dir) => command.env("GAMIFY_DATA_DIR", dir),
        None => command.arg("--in-memory"),
    };
    command
        .env("PORT", port.to_string())
        .env("DYNAMODB_PORT", dynamo_port.to_string())
        .env_remove("DYNAMODB_ENDPOINT");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start gamify-local");
    let stdout = child.stdout.take().unwrap();
    let started = Instant::now();
    let mut demo = Value::Null;
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        lines.push(line.clone());
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
        printed: lines,
    }
}

/// One HTTP call; the status and the JSON body (a string when it is not JSON).
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, Value) {
    try_call(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// `call`, answering transport errors (refused, timed out) instead of panicking.
pub fn try_call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, Value), String> {
    try_request(method, url, headers, body).map(|(status, _, body)| (status, body))
}

/// An answer: status, headers (names lower-cased), JSON body (a string when it is not JSON).
pub type Answer = (u16, Vec<(String, String)>, Value);

/// One request's answer; transport errors (refused, timed out) as `Err`.
pub fn try_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Answer, String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build();
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_string(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let names: Vec<(String, String)> = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| Some((n.to_ascii_lowercase(), resp.header(&n)?.to_string())))
        .collect();
    let text = resp.into_string().map_err(|e| e.to_string())?;
    Ok((
        status,
        names,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// Checks `instance` against `schema`, a schema of openapi.yaml (`doc`), whose `$ref`s resolve.
pub fn check(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    // The schema inside a root that carries the document's components, so `$ref`s resolve.
    let root = serde_json::json!({"components": doc["components"], "allOf": [schema]});
    let validator = jsonschema::draft202012::new(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{instance:#}");
}

/// Checks `instance` against the schema at `pointer` (`#/…`, JSON pointer) in openapi.yaml.
pub fn check_against_openapi(pointer: &str, instance: &Value) {
    let text = std::fs::read_to_string(testkit::repo_root().join("openapi.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let schema = doc
        .pointer(pointer.trim_start_matches('#'))
        .unwrap_or_else(|| panic!("{pointer} is not in openapi.yaml"));
    check(&doc, schema, instance, pointer);
}
