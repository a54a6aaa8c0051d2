//! The README's quick start, executed as written: its shell block runs with bash against a fresh
//! local run (the same program as `make run`), from a directory laid out like the repository
//! root (`.local/demo-account.json`, `docs/examples/webhook_receiver.py`), and what it prints must
//! show the member, the streak, the log, the progress, the reward and the webhook events it
//! promises.

mod common;

use std::process::Command;

use serde_json::{json, Value};
use testkit::repo_root;

/// The shell between the quick start's markers (one or more ```sh blocks).
fn quick_start() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- quickstart:begin -->")
        .expect("README has a quick start");
    let (section, _) = rest.split_once("<!-- quickstart:end -->").unwrap();
    let mut script = String::new();
    let mut in_block = false;
    for line in section.lines() {
        match line.trim() {
            "```sh" => in_block = true,
            "```" => in_block = false,
            _ if in_block => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(script.contains("curl"), "the quick start has commands");
    script
}

#[test]
fn the_quick_start_works_as_written() {
    let root = std::env::temp_dir().join(format!("gamify-readme-{}", uuid::Uuid::now_v7()));
    let data = root.join(".local");
    std::fs::create_dir_all(&data).unwrap();
    // The quick start's demo webhook receiver, where the repository keeps it.
    let examples = root.join("docs/examples");
    std::fs::create_dir_all(&examples).unwrap();
    std::fs::copy(
        repo_root().join("docs/examples/webhook_receiver.py"),
        examples.join("webhook_receiver.py"),
    )
    .unwrap();
    let run = common::start(Some(&data));

    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{}", quick_start()))
        .current_dir(&root)
        .env("BASE", &run.base)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "the quick start failed: {stderr}\n{stdout}"
    );

    // Every answer, in order: profile, milestone, log, event, progress, rewards, profile.
    let answers: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // The thirteen answers of the API, then what the webhook receiver got.
    assert!(answers.len() > 13, "{stdout}");
    let (answers, received) = answers.split_at(13);
    assert!(answers.iter().all(|a| a["status"] == "success"), "{stdout}");
    let types: Vec<&str> = received
        .iter()
        .filter(|r| r["verified"] == true && r["status"] == 200)
        .filter_map(|r| r["event"]["type"].as_str())
        .collect();
    for expected in [
        "member.created",
        "reward_log.created",
        "streak_progress.at_risk",
    ] {
        assert!(types.contains(&expected), "{expected}: {received:#?}");
    }
    // The at-risk nudge of night_owl's half check-in, once; the grant; the freeze on the run.
    let nudges: Vec<&Value> = received
        .iter()
        .filter(|r| r["event"]["type"] == "streak_progress.at_risk")
        .collect();
    assert_eq!(nudges.len(), 1, "{received:#?}");
    assert_eq!(nudges[0]["event"]["data"]["remainingValue"], 1);
    let (grant, owl) = (&answers[7], &answers[8]);
    assert_eq!(grant["data"]["count"], 1, "{grant}");
    assert_eq!(owl["data"][0]["freezesAvailable"], 1, "{owl}");
    assert_eq!(
        owl["data"][0]["streakProgressStatus"], "in_progress",
        "{owl}"
    );
    assert_eq!(owl["data"][0]["taskProgress"]["currentValue"], 1, "{owl}");
    // The reward's 50 points credited by the processor, less the spend of 20.
    let (spend, spender) = (&answers[9], &answers[10]);
    assert_eq!(spend["data"]["amount"], -20, "{spend}");
    assert_eq!(spender["data"]["pointsBalance"], 30, "{spender}");
    // The week's board: the reward's 50 (a spend does not lower it), from the stream.
    let (board, rank) = (&answers[11], &answers[12]);
    assert_eq!(board["data"]["totalParticipants"], 1, "{board}");
    assert_eq!(
        board["data"]["rankings"][0]["externalId"], "user_12345",
        "{board}"
    );
    assert_eq!(board["data"]["rankings"][0]["value"], 50, "{board}");
    assert_eq!(board["data"]["final"], false, "{board}");
    assert_eq!(
        (
            rank["data"]["rank"].clone(),
            rank["data"]["percentile"].clone()
        ),
        (json!(1), json!(100)),
        "{rank}"
    );
    let (member, log, event, progress, rewards, profile) = (
        &answers[0],
        &answers[2],
        &answers[3],
        &answers[4],
        &answers[5],
        &answers[6],
    );
    assert_eq!(event["data"]["eventId"], "evt-1");
    assert_eq!(member["data"]["externalId"], "user_12345");
    // No activity yet: seed 001's example answer scores a fresh profile 0.
    assert_eq!(member["data"]["engagementScore"], 0, "{member}");
    assert_eq!(log["data"]["ownedById"], member["data"]["id"]);
    let runs = progress["data"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{progress}");
    assert_eq!(runs[0]["streakProgressStatus"], "in_progress");
    assert_eq!(runs[0]["currentProgressValue"], 1);
    assert_eq!(runs[0]["taskProgress"]["currentValue"], 12.5);
    let rewards = rewards["data"].as_array().unwrap();
    assert_eq!(rewards.len(), 1, "{rewards:?}");
    assert_eq!(rewards[0]["milestone"]["name"], "First day");
    assert_eq!(rewards[0]["couponCode"], Value::Null);
    for (field, value) in [
        ("totalEvents", json!(2)),
        ("totalPlays", json!(1)),
        ("plays7d", json!(1)),
        ("pointsEarned7d", json!(50)),
        ("pointsBalance", json!(50)),
        ("campaignsJoined", json!(1)),
        ("lifecycleStage", json!("new")),
        ("engagementTier", json!("casual")),
        // Activity today 30, 1 play 1, 50 points 2, 1 campaign 4 (docs/DECISIONS.md).
        ("engagementScore", json!(37)),
    ] {
        assert_eq!(profile["data"][field], value, "{field}");
    }
    let picks = &profile["data"]["recommendations"];
    assert_eq!(picks[0]["reason"], "close_to_completion", "{picks}");
    assert_eq!(picks[0]["progress"]["current"], 1);
    assert_eq!(picks[0]["progress"]["target"], 7);
    drop(run);
    let _ = std::fs::remove_dir_all(&root);
}
