//! Leaderboard scores from the stream (SPEC §11): a counted log is a play, a points credit adds
//! its amount, on every live board of the tenant with that metric, in the period the activity
//! falls in (in the board's time zone). Only live members take part; a period that has settled
//! (`SETTLE_AFTER` past its end) keeps its final standings.

use std::collections::HashMap;
use std::sync::Mutex;

use rust_decimal::Decimal;

use domain::leaderboard::{rank, Leaderboard, Metric, FINISHED_TOP};
use domain::log::LogKind;
use domain::member::{Member, MemberStatus};
use domain::program::ProgramStatus;
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};
use engine::BoardSpan;
use serde_json::json;
use store::{Condition, DueRecord, ScoreChange, ScoreOwner, ScoreSet, Store, StoreError};

use super::Change;

/// The live boards of each tenant a batch touches, read once per batch.
#[derive(Default)]
pub(super) struct LiveBoards {
    by_tenant: Mutex<HashMap<String, Vec<Leaderboard>>>,
}

impl LiveBoards {
    async fn of(&self, store: &Store, tenant: &Tenant) -> Result<Vec<Leaderboard>, StoreError> {
        let key = tenant.key_prefix();
        if let Some(boards) = self
            .by_tenant
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(boards);
        }
        let mut boards = Vec::new();
        let mut start = None;
        loop {
            let live = [Condition::equals("status", ProgramStatus::Live.as_str())];
            let (page, next) = store.list_boards(tenant, &live, 100, start).await?;
            boards.extend(page);
            match next {
                Some(n) => start = Some(n),
                None => break,
            }
        }
        if let Ok(mut m) = self.by_tenant.lock() {
            m.insert(key, boards.clone());
        }
        Ok(boards)
    }
}

/// The clock's side of a board (SPEC §11): once a period has settled, its top 10 and its
/// participants go into the board's `FINISHED#` item, once (the stream carries it to
/// `leaderboard.finished`), and the board waits on its next period. `false` if another sweep
/// announced it first or the board is gone (its deletion took it off the index).
pub async fn announce_finished(
    store: &Store,
    due: &DueRecord,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Ok(tenant) = store::tenant_of_key(&due.pk) else {
        return Ok(false);
    };
    let Some(board) = store.due_board(due).await? else {
        return Ok(false);
    };
    // Moved on meanwhile (the index lags the table): nothing due.
    let Some(pending) = board.next_finish.clone().filter(|n| n.at <= now) else {
        return Ok(false);
    };
    let period_key = pending.period_key.as_str();
    let (kind, tz) = (board.period.kind(), board.tz());
    let span = BoardSpan::from_key(kind, tz, period_key);
    let (scores, summary) = futures_util::future::try_join(
        store.top_scores(&tenant, &board.id, period_key, FINISHED_TOP, None),
        store.board_summary(&tenant, &board.id, period_key),
    )
    .await?;
    let finished = json!({
        "leaderboardId": board.id,
        "name": board.name,
        "status": board.status,
        "metric": board.metric,
        "period": board.period,
        "periodKey": period_key,
        "totalParticipants": summary.participants,
        "rankings": rank(scores, 0, None).iter().map(|s| s.to_record(false)).collect::<Vec<_>>(),
        "finishedAt": time::format(&now),
    });
    let next = span.and_then(|s| s.next(kind, tz)).and_then(|s| s.finish());
    store
        .finish_board_period(due, period_key, &finished, next.as_ref())
        .await
}

/// The period key a board files an instant under, or `None` once that period has settled.
pub fn period_key(board: &Leaderboard, at: Timestamp, now: Timestamp) -> Option<String> {
    let span = BoardSpan::containing(board.period.kind(), board.tz(), at);
    match span.settles_at() {
        Some(settled) if now >= settled => None,
        _ => Some(span.key),
    }
}

/// What one change adds to boards of one metric: (metric, amount, when, source key).
fn contribution(change: &Change) -> Option<(Metric, Decimal, Timestamp, &(String, String))> {
    match change {
        Change::Log(e) if e.log.counts_toward_progress && e.log.kind != LogKind::Freeze => {
            Some((Metric::Plays, Decimal::ONE, e.log.activity_at, &e.key))
        }
        // Spends do not lower a points board.
        Change::Points(p) if p.entry.amount.decimal() > Decimal::ZERO => Some((
            Metric::Points,
            p.entry.amount.decimal(),
            p.entry.activity_at,
            &p.key,
        )),
        _ => None,
    }
}

/// Sets the member's score on the tenant's live boards that rank `program_id` (metric `streak` or
/// `challenge`) from `latest`, the member's latest run or window as stored: its value, as of its
/// version, in the board's current period. Idempotent: a retried or replayed batch finds the
/// same version and writes nothing.
pub(super) async fn score_progress(
    store: &Store,
    boards: &LiveBoards,
    member: &Member,
    tenant: &Tenant,
    program_id: &str,
    latest: &serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    if member.status != MemberStatus::Live {
        return Ok(());
    }
    let metric = if latest.get("streakProgressStatus").is_some() {
        Metric::Streak
    } else {
        Metric::Challenge
    };
    let value = latest["currentProgressValue"]
        .as_number()
        .and_then(|n| n.to_string().parse::<Decimal>().ok());
    let at = latest["updatedAt"]
        .as_str()
        .and_then(|t| time::parse(t).ok());
    let (Some(value), Some(at), Some(version)) = (value, at, latest["ver"].as_u64()) else {
        return Ok(());
    };
    let live = boards.of(store, tenant).await?;
    let ranking =
        |b: &Leaderboard| b.metric == metric && b.program_id.as_deref() == Some(program_id);
    for (board, period_key) in in_period(&live, ranking, now, now) {
        let set = ScoreSet {
            owner: owner(board, &period_key, member),
            value,
            at,
            version,
        };
        store.set_score(tenant, &set, now).await?;
    }
    Ok(())
}

/// The boards `wanted` keeps, each with its period that `at` falls in; a period that has
/// settled by `now` takes no more scores, so its board is left out.
fn in_period<'a>(
    live: &'a [Leaderboard],
    wanted: impl Fn(&Leaderboard) -> bool + 'a,
    at: Timestamp,
    now: Timestamp,
) -> impl Iterator<Item = (&'a Leaderboard, String)> + 'a {
    live.iter()
        .filter(move |b| wanted(b))
        .filter_map(move |b| Some((b, period_key(b, at, now)?)))
}

/// The member's score on `board` in `period_key`.
fn owner<'a>(board: &'a Leaderboard, period_key: &'a str, member: &'a Member) -> ScoreOwner<'a> {
    ScoreOwner {
        board_id: &board.id,
        period_key,
        member_id: &member.id,
        external_id: &member.external_id,
        display_name: member.display_name.as_deref(),
    }
}

/// Applies a member's changes of a batch to the boards; returns the sequence numbers that failed.
pub(super) async fn score(
    store: &Store,
    boards: &LiveBoards,
    member: &Member,
    changes: &[Change],
    now: Timestamp,
) -> Vec<String> {
    if member.status != MemberStatus::Live {
        return Vec::new();
    }
    let mut failed = Vec::new();
    for change in changes {
        let Some((metric, amount, at, source)) = contribution(change) else {
            continue;
        };
        let (tenant, _) = change.member();
        let live = match boards.of(store, tenant).await {
            Ok(live) => live,
            Err(e) => {
                tracing::error!(error = ?e, "boards read failed");
                failed.push(change.sequence().to_string());
                continue;
            }
        };
        for (board, period_key) in in_period(&live, |b| b.metric == metric, at, now) {
            let write = ScoreChange {
                owner: owner(board, &period_key, member),
                delta: amount,
                at,
                source: (&source.0, &source.1),
            };
            if let Err(e) = store.add_to_score(tenant, &write, now).await {
                tracing::error!(error = ?e, board = %board.id, member = %member.id, "score failed");
                failed.push(change.sequence().to_string());
                break;
            }
        }
    }
    failed
}
