//! Partition heat (issue 12): one tenant's activity — members tracked, streak and challenge logs,
//! user-journey events, the processor's progress records, rewards and analytics — spreads its
//! writes so that no partition key, in the table or in an index, takes more than 1/N of them (N =
//! the list shards). Counted by the partition-heat meter from the table's stream.

mod common;

use common::*;
use domain::log::LogKind;
use domain::program::ProgramKind;
use serde_json::json;
use testkit::heat::{HeatMeter, Target};
use testkit::template_path;

const MEMBERS: usize = 40;
const DAYS: i64 = 10;

#[tokio::test]
async fn no_partition_of_a_busy_tenant_takes_more_than_one_shard_of_its_writes() {
    let mut w = World::new().await;
    // The busiest shape a tenant has: every member logs toward one long streak every day.
    let streak = w.program(ProgramKind::Streak, json!({"name": "daily", "status": "live", "completionTargetValue": 30, "aggregationTargetValue": 1, "aggregationMethod": "count"})).await;
    w.program(ProgramKind::Milestone, json!({"name": "5 days", "status": "live", "linkedSchemaSlug": "streak", "linkedSchemaRecordId": streak, "milestoneTargetValue": 5, "rewardPoints": 10})).await;
    // Programs are an operator's writes, not activity: the meter starts after them.
    w.drain().await;

    let mut logs = 0;
    for m in 0..MEMBERS {
        let user = format!("user-{m}");
        let (status, _) = w.track(json!({"externalId": user, "country": "GB"})).await;
        assert_eq!(status, 200);
        for day in (1..=DAYS).rev() {
            let body = json!({"streakId": streak, "ownedById": user, "uniqueIdentifier": format!("{user}-{day}"), "activityAt": days_ago(day)});
            let (status, answer) = w.log(LogKind::Streak, body).await;
            assert_eq!(status, 201, "{answer}");
            logs += 1;
        }
    }
    let batches = w.drain().await;

    let mut meter = HeatMeter::from_template(&template_path()).unwrap();
    for batch in &batches {
        meter.record(&batch.records);
    }
    let heat = &meter.heat;
    let total = heat.total();
    let shards = store::LIST_SHARDS as u64;
    println!("{logs} logs, {MEMBERS} members: {total} partition writes; hottest:");
    for (target, pk, writes) in heat.hottest(10) {
        println!("  {writes:5}  {target:?}  {pk}");
    }
    let list = |slug: &str| {
        let prefix = format!("{}#LIST#{slug}#", w.tenant.key_prefix());
        heat.with_prefix(&Target::Index("GSI1".into()), &prefix)
    };
    let sum = |spread: &[(&str, u64)]| spread.iter().map(|(_, n)| n).sum::<u64>();
    assert_eq!(
        sum(&list("reward_log")),
        MEMBERS as u64,
        "every member earned the 5-day reward"
    );

    let (target, pk, hottest) = heat.hottest(1)[0];
    assert!(
        hottest * shards <= total,
        "{target:?} {pk} took {hottest} of {total} writes, more than 1/{shards}"
    );
    // One unsharded list partition (all shards' writes under one key) would have taken more.
    let unsharded = sum(&list("streak_log"));
    println!(
        "  one tenant-wide partition would take {unsharded} of {total} ({:.1} %); the hottest takes {hottest} ({:.1} %)",
        100.0 * unsharded as f64 / total as f64,
        100.0 * hottest as f64 / total as f64
    );
    assert!(
        unsharded * shards > total,
        "the scenario must be one an unsharded list fails"
    );

    // Each tenant-wide list is spread over all its shards, none far above its share.
    for slug in [
        "streak_log",
        "streak_progress",
        "reward_log",
        "account_user",
    ] {
        let spread = list(slug);
        let (sum, max) = (
            sum(&spread),
            spread.iter().map(|(_, n)| *n).max().unwrap_or(0),
        );
        let fair = sum as f64 / shards as f64;
        println!(
            "  {slug}: {sum} writes over {} shards, hottest {max} ({fair:.1} fair)",
            spread.len()
        );
        // A hash spreads like chance: with hundreds of writes every shard gets some (with 40, one
        // may get none — 4 % of runs), and far above 4.5 standard deviations is not chance.
        if sum >= 200 {
            assert_eq!(spread.len() as u64, shards, "{slug}: {spread:?}");
        }
        assert!(
            (max as f64) <= fair + 4.5 * fair.sqrt() + 1.0,
            "{slug}: {spread:?}"
        );
    }
}

/// A leaderboard's writes (issue 21): members' score changes spread over the board's 16 GSI4
/// partitions and histogram items by member, so no partition key takes more than 1/16 of them
/// beyond what chance gives a hash; one partition per board (a naive sorted list) would take all.
#[tokio::test]
async fn no_partition_takes_more_than_a_shard_of_a_boards_writes() {
    const BOARD_MEMBERS: usize = 160;
    let mut w = World::new().await;
    let points = points::App::new(w.store.clone(), domain::cursor::CursorCodec::from_env());
    let input: domain::leaderboard::LeaderboardInput = serde_json::from_value(
        json!({"name": "busy", "status": "live", "metric": "points", "period": "all_time"}),
    )
    .unwrap();
    let board = input
        .apply(None, uuid::Uuid::now_v7().to_string(), domain::time::now())
        .unwrap();
    w.store.insert_board(&w.tenant, &board).await.unwrap();
    for m in 0..BOARD_MEMBERS {
        w.member(&format!("p-{m}"), "live").await;
    }
    w.drain().await;
    for round in 0..2 {
        for m in 0..BOARD_MEMBERS {
            let body = json!({"ownedById": format!("p-{m}"), "amount": 1 + m % 7, "uniqueIdentifier": format!("p-{m}-{round}")});
            let event = testkit::events::as_caller(
                testkit::events::with_body(
                    testkit::events::load("points/create.json"),
                    &body.to_string(),
                ),
                &w.tenant.account_id,
                "live",
                "admin",
            );
            let (status, answer) =
                testkit::events::parse(points.handle(testkit::events::request(&event)).await);
            assert_eq!(status, 201, "{answer}");
        }
    }
    let batches = w.drain().await;
    let mut meter = HeatMeter::from_template(&template_path()).unwrap();
    for batch in &batches {
        meter.record(&batch.records);
    }
    let heat = &meter.heat;
    // The board's writes: the score items (in members' partitions), their GSI4 entries and
    // the histograms.
    let board_prefix = format!("{}#BOARD#{}#", w.tenant.key_prefix(), board.id);
    let gsi4 = heat.with_prefix(&Target::Index("GSI4".into()), &board_prefix);
    let histograms = heat.with_prefix(&Target::Table, &board_prefix);
    let scores: u64 = heat
        .hottest(usize::MAX)
        .iter()
        .filter(|(t, pk, _)| **t == Target::Table && pk.contains("#MEMBER#"))
        .count() as u64;
    let sum = |spread: &[(&str, u64)]| spread.iter().map(|(_, n)| n).sum::<u64>();
    let changes = 2 * BOARD_MEMBERS as u64;
    assert_eq!(
        sum(&histograms),
        changes,
        "one histogram write per score change"
    );
    assert_eq!(gsi4.len(), 16, "{gsi4:?}");
    assert_eq!(histograms.len(), 16, "{histograms:?}");
    let total = sum(&gsi4) + sum(&histograms) + changes;
    let hottest = gsi4
        .iter()
        .chain(histograms.iter())
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    println!(
        "{changes} score changes of {BOARD_MEMBERS} members: {total} board writes; hottest partition {hottest}; {scores} member partitions; one board partition would take {}",
        sum(&gsi4)
    );
    assert!(
        hottest * 16 <= total,
        "a board partition took {hottest} of {total} writes, more than 1/16"
    );
    assert!(
        sum(&gsi4) * 16 > total,
        "the scenario must be one an unsharded board index fails"
    );
}
