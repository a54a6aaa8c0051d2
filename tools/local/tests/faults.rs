//! Faults, end to end: the store dies and comes back in the middle of a burst of logs, or dies for
//! good. Every log answered 201 must be counted exactly once, and a dead store must stop the run.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{call, start_with, try_call};
use serde_json::{json, Value};
use testkit::{free_port, DynamoLocal};

/// SIGKILL, as a crash or the OOM killer would: DynamoDB Local gets no chance to clean up. The
/// process is found by its command line in /proc (the Java process, not its watchdog shell).
fn kill_dynamodb_local(port: u16) {
    let wanted = ["-jar", "-port", &port.to_string()];
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        let is_java = args.first().is_some_and(|a| a.ends_with("java"));
        let port_arg = args
            .windows(2)
            .any(|w| w[0] == wanted[1] && w[1] == wanted[2]);
        if is_java && port_arg && args.iter().any(|a| a == wanted[0]) {
            let pid = entry.file_name().to_string_lossy().to_string();
            assert!(Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap()
                .success());
            killed += 1;
        }
    }
    assert_eq!(killed, 1, "one DynamoDB Local on port {port} to kill");
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gamify-{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const MEMBERS: usize = 6;
const LOGS_PER_MEMBER: usize = 40;

#[test]
fn a_store_outage_in_the_middle_of_a_burst_loses_no_progress() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = scratch_dir("faults");
    let db = dir.join("dynamodb");
    let dynamo_port = free_port().unwrap();
    let dynamo = runtime
        .block_on(DynamoLocal::start(dynamo_port, Some(&db)))
        .unwrap();
    let endpoint = dynamo.endpoint.clone();
    let env = [
        ("DYNAMODB_ENDPOINT", endpoint.as_str()),
        ("STORE_DOWN_EXIT_SECONDS", "120"),
    ];
    let run = start_with(Some(&dir), &env, Stdio::null());
    let live = &run.demo["live"];
    let (key, secret) = (
        live["apiKey"].as_str().unwrap().to_string(),
        live["apiSecret"].as_str().unwrap().to_string(),
    );
    let admin = [
        ("x-api-key", key.as_str()),
        ("x-api-secret", secret.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, challenge) = call(
        "POST",
        &format!("{}/schema/challenge/record", run.base),
        &admin,
        Some(
            &json!({"name": "Count every log", "status": "live", "aggregationMethod": "count",
                    "aggregationPeriod": "monthly", "completionTargetValue": 1_000_000})
            .to_string(),
        ),
    );
    assert_eq!(status, 201, "{challenge}");
    let challenge_id = challenge["data"]["id"].as_str().unwrap().to_string();
    for m in 0..MEMBERS {
        let body = json!({"externalId": format!("m{m}"), "status": "live"}).to_string();
        let url = format!("{}/schema/account_user/record", run.base);
        let (status, member) = call("POST", &url, &admin, Some(&body));
        assert_eq!(status, 201, "{member}");
    }

    // Four senders, each a member's burst of logs, every log sent until it is answered.
    let activity_at = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let created: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let failures_seen: Arc<Mutex<usize>> = Arc::default();
    let senders: Vec<_> = (0..MEMBERS)
        .map(|m| {
            let (base, key, secret) = (run.base.clone(), key.clone(), secret.clone());
            let (challenge_id, activity_at) = (challenge_id.clone(), activity_at.clone());
            let (created, failures_seen) = (created.clone(), failures_seen.clone());
            std::thread::spawn(move || {
                let admin = [
                    ("x-api-key", key.as_str()),
                    ("x-api-secret", secret.as_str()),
                    ("content-type", "application/json"),
                ];
                for i in 0..LOGS_PER_MEMBER {
                    let unique = format!("m{m}-{i}");
                    let body = json!({"challengeId": challenge_id, "ownedById": format!("m{m}"),
                        "activityAt": activity_at, "uniqueIdentifier": unique})
                    .to_string();
                    let url = format!("{base}/schema/challenge_log/record");
                    let started = Instant::now();
                    loop {
                        match try_call("POST", &url, &admin, Some(&body)) {
                            Ok((201, _)) => {
                                created.lock().unwrap().insert(unique.clone());
                                break;
                            }
                            // Stored by an attempt whose answer was lost to the outage.
                            Ok((200, _)) => break,
                            Ok((status, _)) if status >= 500 => {}
                            Err(_) => {}
                            Ok((status, body)) => panic!("{unique}: {status} {body}"),
                        }
                        *failures_seen.lock().unwrap() += 1;
                        assert!(
                            started.elapsed() < Duration::from_secs(120),
                            "{unique} never stored"
                        );
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            })
        })
        .collect();

    // A quarter, a half and three quarters of the way in, the store dies; two seconds later it
    // is back, with its data.
    let mut dynamo = dynamo;
    for quarter in 1..=3 {
        let started = Instant::now();
        while created.lock().unwrap().len() < MEMBERS * LOGS_PER_MEMBER * quarter / 4 {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the burst stalled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        kill_dynamodb_local(dynamo_port);
        std::thread::sleep(Duration::from_secs(2));
        let restarted = runtime
            .block_on(DynamoLocal::start(dynamo_port, Some(&db)))
            .unwrap();
        drop(std::mem::replace(&mut dynamo, restarted));
    }
    for sender in senders {
        sender.join().unwrap();
    }
    let retried = *failures_seen.lock().unwrap();
    assert!(
        retried > 0,
        "the outage was seen by the senders (else this test tests nothing)"
    );
    println!(
        "3 outages: {retried} requests failed and were sent again; {} of {} logs answered 201",
        created.lock().unwrap().len(),
        MEMBERS * LOGS_PER_MEMBER
    );

    // Every stored log is counted, once; every log answered 201 is stored.
    let count_of = |base: &str, m: usize| -> (BTreeSet<String>, Option<f64>) {
        let url = format!("{base}/schema/challenge_log/record?ownedById=m{m}&limit=1000");
        let (status, logs) = call("GET", &url, &admin, None);
        assert_eq!(status, 200, "{logs}");
        let stored = logs["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["uniqueIdentifier"].as_str().unwrap().to_string())
            .collect();
        let url = format!(
            "{base}/schema/challenge_progress/record?ownedById=m{m}&challengeId={challenge_id}"
        );
        let (status, progress) = call("GET", &url, &admin, None);
        assert_eq!(status, 200, "{progress}");
        (stored, progress["data"][0]["currentProgressValue"].as_f64())
    };
    let check = |base: &str| {
        for m in 0..MEMBERS {
            let waited = Instant::now();
            loop {
                let (stored, counted) = count_of(base, m);
                assert_eq!(
                    stored.len(),
                    LOGS_PER_MEMBER,
                    "every log was sent until stored"
                );
                for unique in created.lock().unwrap().iter() {
                    if unique.starts_with(&format!("m{m}-")) {
                        assert!(
                            stored.contains(unique),
                            "{unique} answered 201 but not stored"
                        );
                    }
                }
                if counted == Some(LOGS_PER_MEMBER as f64) {
                    break;
                }
                assert!(
                    counted.unwrap_or(0.0) < LOGS_PER_MEMBER as f64,
                    "m{m}: counted {counted:?} of {} stored logs: counted twice",
                    stored.len()
                );
                assert!(
                    waited.elapsed() < Duration::from_secs(90),
                    "m{m}: progress {counted:?} never reached the {} stored logs",
                    stored.len()
                );
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    };
    check(&run.base);

    // A restart resumes after the checkpoint rather than replaying the whole stream.
    drop(run);
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(dir.join("stream-checkpoint.json")).unwrap())
            .unwrap();
    assert!(checkpoint["streamArn"]
        .as_str()
        .is_some_and(|a| !a.is_empty()));
    let again = start_with(Some(&dir), &env, Stdio::null());
    assert!(
        again
            .printed
            .iter()
            .any(|l| l.contains("resuming after its checkpoint")),
        "{:?}",
        again.printed
    );
    check(&again.base);
    drop(again);
    drop(dynamo);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_that_dies_for_good_stops_the_run_with_a_clear_message() {
    let dir = scratch_dir("dead-store");
    let stderr_path = dir.join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut run = start_with(None, &[], Stdio::from(stderr));
    let port: u16 = run.dynamodb.rsplit(':').next().unwrap().parse().unwrap();
    kill_dynamodb_local(port);
    let waited = Instant::now();
    let status = loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the run keeps going without its store"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let said = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        said.contains("DynamoDB Local") && said.contains("exited"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
