//! The clock's sweep (SPEC §10) against DynamoDB Local: records in progress are in the due index,
//! a sweep after their deadline stores them `broken` / `failed` once, however many sweeps race,
//! and the stream carries that one change (which webhook delivery turns into the event).
//!
//! One test function: the sweep reads the whole table's due index and takes `now` from the
//! test (hours or days ahead), so scenarios of this binary run in sequence.

mod common;

use chrono::{Duration, Utc};
use common::*;
use domain::log::LogKind;
use domain::program::ProgramKind;
use processor::sweep::sweep;
use serde_json::{json, Value};
use testkit::meter::{metered_test_store, totals};

fn status_change(r: &aws_lambda_events::dynamodb::EventRecord, field: &str) -> (String, String) {
    let status = |image: Value| image[field]["S"].as_str().unwrap_or_default().to_string();
    (
        status(serde_json::to_value(&r.change.old_image).unwrap_or_default()),
        status(serde_json::to_value(&r.change.new_image).unwrap_or_default()),
    )
}

#[tokio::test]
async fn the_sweep_stores_broken_runs_and_failed_windows_once() {
    let (store, meter) = metered_test_store().await;
    let mut w = World::on(store).await;
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "atRiskLeadMinutes": 0})).await;
    let short = w.program(ProgramKind::Streak, json!({"name": "one day", "status": "live", "completionTargetValue": 1, "aggregationTargetValue": 1, "atRiskLeadMinutes": 0})).await;
    let challenge = w.program(ProgramKind::Challenge, json!({"name": "spend", "status": "live", "completionTargetValue": 100, "aggregationPeriod": "monthly"})).await;
    let member = w.member("ada", "live").await;
    let now = Utc::now();
    let at = (now - Duration::minutes(1)).to_rfc3339();
    for (kind, program_field, program) in [
        (LogKind::Streak, "streakId", &streak),
        (LogKind::Streak, "streakId", &short),
        (LogKind::Challenge, "challengeId", &challenge),
    ] {
        let body = json!({program_field: program, "ownedById": "ada", "uniqueIdentifier": "a", "activityValue": 10, "activityAt": at});
        assert_eq!(w.log(kind, body).await.0, 201);
    }
    w.drain().await;

    // In progress: listed in the due index under its deadline; completed: not listed.
    let records = w.records(&member, "PROGRESS#").await;
    let of = |program: &str| -> Value {
        records
            .iter()
            .find(|r| r["streakId"] == program || r["challengeId"] == program)
            .cloned()
            .unwrap_or_default()
    };
    let (run, window, done) = (of(&streak), of(&challenge), of(&short));
    assert_eq!(run["streakProgressStatus"], "in_progress");
    let breaks_at = run["breaksAt"].as_str().unwrap().to_string();
    assert!(run["GSI3PK"]
        .as_str()
        .unwrap()
        .starts_with(&format!("DUE#{}#", &breaks_at[..13])));

    let period_end = window["taskProgress"]["periodEnd"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        window["breaksAt"],
        period_end.as_str(),
        "a window's deadline is its end"
    );
    assert!(window["GSI3PK"]
        .as_str()
        .unwrap()
        .starts_with(&format!("DUE#{}#", &period_end[..13])));
    assert_eq!(done["streakProgressStatus"], "completed");
    assert!(
        done.get("GSI3PK").is_none(),
        "settled records are not due: {done}"
    );

    // Before the deadline nothing of ours changes.
    assert_eq!(sweep(&w.store, Utc::now()).await.unwrap().settled, 0);
    let run_now = w.records(&member, "PROGRESS#").await;
    assert!(run_now
        .iter()
        .all(|r| r["streakProgressStatus"] != "broken"));

    // After the run's deadline (not yet the window's): two sweeps at once break it once.
    let after_run = chrono::DateTime::parse_from_rfc3339(&breaks_at)
        .unwrap()
        .to_utc()
        + Duration::seconds(1);
    // Two sweeps that both read the entry, then both settle it: one write wins.
    let (hour, shard) = {
        let pk = run["GSI3PK"].as_str().unwrap();
        let mut parts = pk.rsplit('#');
        let shard: usize = parts.next().unwrap().parse().unwrap();
        (parts.next().unwrap().to_string(), shard)
    };
    meter.take();
    let due = w
        .store
        .due_records(&hour, shard, &after_run, 100)
        .await
        .unwrap();
    let (query_reads, _) = totals(&meter.take());
    let entry = due
        .iter()
        .find(|d| run["PK"] == d.pk.as_str() && run["SK"] == d.sk.as_str())
        .expect("the run is due");
    let (a, b) = tokio::join!(
        w.store.settle_due(entry, &after_run),
        w.store.settle_due(entry, &after_run)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|s| **s).count(),
        1,
        "exactly one settle applies"
    );
    // What a swept deadline costs (BENCHMARKS.md §8): the due index's page, then the settle — the
    // record, its due entry deleted, its two list entries (they project the status) — and the
    // write that lost the race (a failed condition is charged too).
    let (_, settle_writes) = totals(&meter.take());
    println!("swept deadline: due-index page {query_reads} RCU; two settles {settle_writes} WCU");
    assert!(query_reads <= 0.5, "{query_reads}");
    assert!(settle_writes <= 4.0, "{settle_writes}");
    // Sweeps racing after it find nothing left to settle.
    let (a, b) = tokio::join!(sweep(&w.store, after_run), sweep(&w.store, after_run));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.settled + b.settled, 0, "{a:?} {b:?}");
    let records = w.records(&member, "PROGRESS#").await;
    let run = records
        .iter()
        .find(|r| r["streakId"] == streak.as_str())
        .unwrap();
    assert_eq!(run["streakProgressStatus"], "broken");
    assert_eq!(run["streakBrokenAt"], breaks_at.as_str());
    assert!(
        run.get("GSI3PK").is_none(),
        "a broken run leaves the due index"
    );
    let window = records
        .iter()
        .find(|r| r["challengeId"] == challenge.as_str())
        .unwrap();
    assert_eq!(window["challengeProgressStatus"], "in_progress");

    // After the window's end: failed, at its end.
    let after_window = chrono::DateTime::parse_from_rfc3339(&period_end)
        .unwrap()
        .to_utc()
        + Duration::seconds(1);
    let first = sweep(&w.store, after_window).await.unwrap();
    let again = sweep(&w.store, after_window).await.unwrap();
    assert_eq!((first.settled, again.settled), (1, 0));
    let records = w.records(&member, "PROGRESS#").await;
    let window = records
        .iter()
        .find(|r| r["challengeId"] == challenge.as_str())
        .unwrap();
    assert_eq!(window["challengeProgressStatus"], "failed");
    assert_eq!(window["challengeFailedAt"], period_end.as_str());

    // The stream carries each change once: what webhook delivery sends.
    let changes = w.collect().await;
    let count = |field: &str, to: &str| {
        changes
            .records
            .iter()
            .filter(|r| status_change(r, field) == ("in_progress".to_string(), to.to_string()))
            .count()
    };
    assert_eq!(count("streakProgressStatus", "broken"), 1);
    assert_eq!(count("challengeProgressStatus", "failed"), 1);

    at_risk_and_freezes(&mut w, &meter).await;
}

/// A run at risk is nudged once per period; a freeze keeps it over a missed day (the sweep
/// consumes it at the deadline), the next missed day breaks it; racing sweeps change each state
/// once and the stream means each event once.
async fn at_risk_and_freezes(w: &mut World, meter: &testkit::meter::Meter) {
    let streak = w.program(ProgramKind::Streak, json!({"name": "frozen", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "atRiskLeadMinutes": 60, "maxFreezes": 1})).await;
    let member = w.member("bo", "live").await;
    let now = Utc::now();
    let log = json!({"streakId": streak, "ownedById": "bo", "uniqueIdentifier": "today", "activityValue": 1, "activityAt": (now - Duration::minutes(1)).to_rfc3339()});
    assert_eq!(w.log(LogKind::Streak, log).await.0, 201);
    w.drain().await;
    let grant =
        json!({"streakId": streak, "ownedById": "bo", "count": 3, "uniqueIdentifier": "promo"});
    meter.take();
    let (status, body) = w.log(LogKind::Freeze, grant.clone()).await;
    assert_eq!(status, 201, "{body}");
    // What a grant costs (BENCHMARKS.md §8): at the API like a log; in the processor, its grants
    // item and the run recomputed with it.
    let (api_reads, api_writes) = totals(&meter.take());
    w.drain().await;
    let (reads, writes) = totals(&meter.take());
    println!(
        "freeze grant: API {api_reads} RCU, {api_writes} WCU; processor {reads} RCU, {writes} WCU"
    );
    assert!(api_writes <= 3.0 && writes <= 4.0, "{api_writes} {writes}");
    assert_eq!(body["data"]["count"], 3);
    // The same grant again is a replay; another body with its key a conflict.
    let (status, replay) = w.log(LogKind::Freeze, grant).await;
    assert_eq!((status, &replay["data"]["id"]), (200, &body["data"]["id"]));
    let other =
        json!({"streakId": streak, "ownedById": "bo", "count": 2, "uniqueIdentifier": "promo"});
    assert_eq!(w.log(LogKind::Freeze, other).await.0, 409);
    // Bad grants answer 400 naming the field, and store nothing.
    for (bad, field) in [
        (
            json!({"streakId": streak, "ownedById": "bo", "count": 11, "uniqueIdentifier": "big"}),
            "count",
        ),
        (
            json!({"streakId": streak, "ownedById": "bo", "count": 1, "grantedAt": "2999-01-01T00:00:00Z", "uniqueIdentifier": "late"}),
            "grantedAt",
        ),
        (
            json!({"streakId": streak, "ownedById": "nobody", "count": 1, "uniqueIdentifier": "who"}),
            "ownedById",
        ),
        (
            json!({"streakId": "no-such-streak", "ownedById": "bo", "count": 1, "uniqueIdentifier": "what"}),
            "streakId",
        ),
    ] {
        let (status, answer) = w.log(LogKind::Freeze, bad).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["details"][0]["field"], field, "{answer}");
    }
    let (grants, _) = w
        .store
        .list_kind::<Value>(
            &w.tenant,
            LogKind::Freeze.slug(),
            Some(&member),
            &[],
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "only the good grant is stored: {grants:?}");
    let mut batches = w.drain().await;
    let run = |records: &[Value]| -> Value {
        records
            .iter()
            .find(|r| r["streakId"] == streak.as_str())
            .cloned()
            .unwrap_or_default()
    };
    let first = run(&w.records(&member, "PROGRESS#").await);
    assert_eq!(first["streakProgressStatus"], "in_progress", "{first}");
    assert_eq!(
        first["freezesAvailable"], 1,
        "held up to maxFreezes: {first}"
    );
    let deadline = |r: &Value| {
        chrono::DateTime::parse_from_rfc3339(r["breaksAt"].as_str().unwrap())
            .unwrap()
            .to_utc()
    };
    let end = deadline(&first);
    assert_eq!(
        first["dueAt"],
        time_of(end - Duration::minutes(60)),
        "due first at risk"
    );

    // 30 minutes before the end: at risk, noted once by two sweeps at once.
    let at_risk_time = end - Duration::minutes(30);
    meter.take();
    let (a, b) = tokio::join!(sweep(&w.store, at_risk_time), sweep(&w.store, at_risk_time));
    assert_eq!(a.unwrap().settled + b.unwrap().settled, 1);
    let (reads, writes) = totals(&meter.take());
    println!("at-risk nudge, two sweeps racing (every due-index page of both): {reads} RCU, {writes} WCU");
    let noted = run(&w.records(&member, "PROGRESS#").await);
    assert_eq!(noted["atRiskSentFor"], first["breaksAt"]);
    assert_eq!(
        noted["dueAt"], first["breaksAt"],
        "next due at the deadline"
    );
    batches.push(w.collect().await);

    // At the deadline, with a freeze held: two sweeps at once keep the run once.
    let after = end + Duration::seconds(1);
    meter.take();
    let (a, b) = tokio::join!(sweep(&w.store, after), sweep(&w.store, after));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.settled + b.settled, 1, "{a:?} {b:?}");
    let (reads, writes) = totals(&meter.take());
    println!("freeze used at the deadline, two sweeps racing: {reads} RCU, {writes} WCU");
    let kept = run(&w.records(&member, "PROGRESS#").await);
    // As the API shows it (the store leaves out zeros).
    let read = app::records::as_read(kept.clone(), after);
    assert_eq!(read["streakProgressStatus"], "in_progress", "{read}");
    assert_eq!(
        (&read["freezesUsed"], &read["freezesAvailable"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(read["frozenPeriods"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        read["currentProgressValue"], 1,
        "a frozen period is not a completed one"
    );
    assert!(
        read.get("dueAt").is_none() && read.get("atRiskSentFor").is_none(),
        "{read}"
    );
    let next_end = deadline(&kept);
    assert_eq!(next_end, end + Duration::days(1));
    batches.push(w.collect().await);

    // The next period: at risk again (once), then broken at its end (no freeze left).
    let second_risk = next_end - Duration::minutes(30);
    assert_eq!(sweep(&w.store, second_risk).await.unwrap().settled, 1);
    assert_eq!(sweep(&w.store, second_risk).await.unwrap().settled, 0);
    let broken_at = next_end + Duration::seconds(1);
    let (a, b) = tokio::join!(sweep(&w.store, broken_at), sweep(&w.store, broken_at));
    assert_eq!(a.unwrap().settled + b.unwrap().settled, 1);
    let broken = run(&w.records(&member, "PROGRESS#").await);
    assert_eq!(broken["streakProgressStatus"], "broken", "{broken}");
    assert_eq!(broken["streakBrokenAt"], time_of(next_end));
    assert!(broken.get("GSI3PK").is_none());
    batches.push(w.collect().await);

    // Each change means its event once: two nudges, one freeze used, one break.
    let events: Vec<&str> = batches
        .iter()
        .flat_map(|b| events_of(&w.tenant, b))
        .map(|(t, _)| t)
        .filter(|t| t.starts_with("streak_progress."))
        .collect();
    let count = |t: &str| events.iter().filter(|e| **e == t).count();
    assert_eq!(count("streak_progress.at_risk"), 2, "{events:?}");
    assert_eq!(count("streak_progress.freeze_used"), 1, "{events:?}");
    assert_eq!(count("streak_progress.broken"), 1, "{events:?}");
    assert_eq!(count("streak_progress.restored"), 0, "{events:?}");
}

fn time_of(t: chrono::DateTime<Utc>) -> String {
    domain::time::format(&t)
}
