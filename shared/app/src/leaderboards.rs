//! Leaderboards (SPEC §11) over the store: board CRUD, a period's standings page by page, and a
//! member's rank with its neighbours. The caller resolves the period (`Span`): the period maths
//! lives in the engine, which the HTTP functions that do not rank need not link.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use domain::cursor::{Binding, CursorCodec, Position};
use domain::error::ApiError;
use domain::leaderboard::Metric;
use domain::leaderboard::{
    bucket_of, percentile, rank, rank_key, value_key, Leaderboard, LeaderboardInput, NextFinish,
    Score, Standing,
};
use domain::program::ProgramKind;
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};
use domain::validate;
use store::{BoardSummary, Condition, Store, StoreError};

/// A member's rank is counted exactly while each of the board's 16 shards holds at most this
/// many better scores (ranks to ~10,000 on a board of any size); past it, it is estimated from
/// the histogram and marked `rankExact: false`.
pub const EXACT_RANK_PER_SHARD: usize = 625;

/// The most neighbours `around` asks for on each side.
pub const MAX_AROUND: usize = 50;

/// A board's period as the caller resolved it: its key and, unless all time, when it settles.
pub struct Span {
    pub key: String,
    pub settles_at: Option<Timestamp>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("No leaderboard with this id.".into())
}

/// Creates a board; `first_finish` names the period the clock announces first (the one running
/// now: the caller's period maths).
pub async fn create(
    store: &Store,
    tenant: &Tenant,
    body: Value,
    now: Timestamp,
    first_finish: impl FnOnce(&Leaderboard) -> Option<NextFinish>,
) -> Result<Leaderboard, ApiError> {
    let input: LeaderboardInput = validate::decode(body)?;
    let mut board = input.apply(None, domain::ids::new_id(), now)?;
    // A streak or challenge board ranks a program of this account, of that kind.
    if let (Some(field), Some(id)) = (board.metric.program_field(), &board.program_id) {
        let kind = match board.metric {
            Metric::Streak => ProgramKind::Streak,
            _ => ProgramKind::Challenge,
        };
        let program = store.get_program(tenant, id).await?;
        if program.is_none_or(|p| p.kind != kind) {
            return Err(ApiError::field(
                field,
                format!("is not a {} of this account", board.metric.as_str()),
            ));
        }
    }
    board.next_finish = first_finish(&board);
    store.insert_board(tenant, &board).await?;
    Ok(board)
}

pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> Result<Leaderboard, ApiError> {
    store.get_board(tenant, id).await?.ok_or_else(not_found)
}

pub async fn patch(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    body: Value,
    now: Timestamp,
) -> Result<Leaderboard, ApiError> {
    let input: LeaderboardInput = validate::decode(body)?;
    for _ in 0..domain::retry::CONFLICT_ATTEMPTS {
        let current = get(store, tenant, id).await?;
        let updated = input.apply(Some(&current), current.id.clone(), now)?;
        match store
            .replace_board(tenant, &updated, &current.updated_at)
            .await
        {
            Ok(()) => return Ok(updated),
            Err(StoreError::Contended) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Contended.into())
}

pub async fn delete(store: &Store, tenant: &Tenant, id: &str) -> Result<Leaderboard, ApiError> {
    let board = get(store, tenant, id).await?;
    if store.delete_board(tenant, id).await? {
        Ok(board)
    } else {
        Err(not_found())
    }
}

pub const LIST_PARAMS: &[&str] = &["limit", "cursor", "status"];

pub async fn list(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<(Vec<Leaderboard>, Option<String>), ApiError> {
    let filters: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| k.as_str() == "status")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(status) = filters.get("status") {
        domain::program::ProgramStatus::from_filter(status)?;
    }
    let binding = Binding {
        tenant,
        query: domain::leaderboard::SLUG,
        filters: &filters,
    };
    let start = codec.start(&binding, params)?;
    let conditions: Vec<Condition> = filters
        .get("status")
        .map(|s| Condition::equals("status", s.clone()))
        .into_iter()
        .collect();
    let (boards, next) = store.list_boards(tenant, &conditions, limit, start).await?;
    Ok((boards, next.map(|p| codec.encode(&binding, &p))))
}

/// What every standings answer starts with.
fn header(board: &Leaderboard, span: &Span, summary: &BoardSummary, now: Timestamp) -> Value {
    json!({
        "leaderboardId": board.id,
        "periodKey": span.key,
        "totalParticipants": summary.participants,
        "asOf": summary.as_of.as_ref().map(time::format),
        "final": span.settles_at.is_some_and(|at| now >= at),
    })
}

pub const RANKINGS_PARAMS: &[&str] = &["periodKey", "limit", "cursor"];

/// One page of a period's standings, best first, and the cursor of the next.
#[allow(clippy::too_many_arguments)]
pub async fn rankings(
    store: &Store,
    codec: &CursorCodec,
    tenant: &Tenant,
    board: &Leaderboard,
    span: &Span,
    params: &BTreeMap<String, String>,
    limit: usize,
    now: Timestamp,
) -> Result<(Value, Option<String>), ApiError> {
    let filters = BTreeMap::from([("periodKey".to_string(), span.key.clone())]);
    let query = format!("leaderboard_rankings:{}", board.id);
    let binding = Binding {
        tenant,
        query: &query,
        filters: &filters,
    };
    // The cursor carries where the page starts and the rank of the entry before it (a tie may
    // run across pages).
    let start = codec.start(&binding, params)?.unwrap_or_default();
    let field = |name: &str| start.get(name).map(String::as_str);
    let ahead: u64 = field("ahead")
        .map_or(Ok(0), str::parse)
        .map_err(|_| domain::cursor::invalid_cursor())?;
    let previous = match (field("value"), field("rank")) {
        (Some(v), Some(r)) => Some((
            v.parse::<Decimal>()
                .map_err(|_| domain::cursor::invalid_cursor())?,
            r.parse::<u64>()
                .map_err(|_| domain::cursor::invalid_cursor())?,
        )),
        _ => None,
    };
    let (scores, summary) = futures_util::try_join!(
        store.top_scores(tenant, &board.id, &span.key, limit, field("after")),
        store.board_summary(tenant, &board.id, &span.key),
    )?;
    let full = scores.len() == limit;
    let standings = rank(scores, ahead, previous);
    let next = match standings.last() {
        Some(last) if full => {
            let s = &last.score;
            let position: Position = BTreeMap::from([
                (
                    "after".into(),
                    rank_key(s.value, &s.reached_at, &s.member_id),
                ),
                ("ahead".into(), (ahead + standings.len() as u64).to_string()),
                ("value".into(), s.value.to_string()),
                ("rank".into(), last.rank.to_string()),
            ]);
            Some(codec.encode(&binding, &position))
        }
        _ => None,
    };
    let mut answer = header(board, span, &summary, now);
    answer["rankings"] = standings.iter().map(|s| s.to_record(false)).collect();
    Ok((answer, next))
}

/// The rank the histogram implies: everyone in a higher bucket, and the share of the member's
/// own bucket above its value.
fn estimated_rank(summary: &BoardSummary, value: Decimal) -> u64 {
    let (lower, width) = bucket_of(value);
    let higher: u64 = summary.buckets.range(lower + width..).map(|(_, c)| c).sum();
    let own = Decimal::from(summary.buckets.get(&lower).copied().unwrap_or(0));
    let above_in_bucket = own * (lower + width - value) / width;
    let above_in_bucket: u64 = above_in_bucket.floor().try_into().unwrap_or(0);
    1 + higher + above_in_bucket
}

/// A member's rank, value, percentile and up to `around` neighbours each side. `name_only`: an end
/// user's view, where the others show their `displayName` alone.
#[allow(clippy::too_many_arguments)]
pub async fn member_rank(
    store: &Store,
    tenant: &Tenant,
    board: &Leaderboard,
    span: &Span,
    member_id: &str,
    around: usize,
    name_only: bool,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let Some(me) = store
        .score_of(tenant, &board.id, &span.key, member_id)
        .await?
    else {
        return Err(ApiError::NotFound(
            "This member has no value on this board in this period.".into(),
        ));
    };
    let my_key = rank_key(me.value, &me.reached_at, &me.member_id);
    let (key, id, my_value_key) = (&board.id, &span.key, value_key(me.value));
    let (better, before, summary, above, below) = futures_util::try_join!(
        store.count_before(tenant, key, id, &my_value_key, EXACT_RANK_PER_SHARD),
        store.count_before(tenant, key, id, &my_key, EXACT_RANK_PER_SHARD),
        store.board_summary(tenant, key, id),
        store.scores_beside(tenant, key, id, around, Some(&my_key), false),
        store.scores_beside(tenant, key, id, around, Some(&my_key), true),
    )?;
    let exact = better.is_some() && before.is_some();
    let my_rank = better.map_or_else(|| estimated_rank(&summary, me.value), |b| b + 1);
    // The member's place in the order (ties included), from which the neighbours' follow.
    let my_position = before.map_or(my_rank, |b| b + 1);
    let mut above: Vec<Score> = above;
    above.reverse();
    let above = rank_above(store, tenant, board, span, above, &me, my_rank, my_position).await?;
    let below = rank(below, my_position, Some((me.value, my_rank)));
    let participants = summary.participants.max(my_position + below.len() as u64);
    let mut answer = header(board, span, &summary, now);
    answer["totalParticipants"] = json!(participants);
    let own = Standing {
        rank: my_rank,
        score: me,
    };
    if let Value::Object(fields) = own.to_record(false) {
        for (k, v) in fields {
            answer[k] = v;
        }
    }
    answer["percentile"] = json!(domain::amount::Amount::from(percentile(
        my_rank,
        participants
    )));
    answer["rankExact"] = json!(exact);
    answer["above"] = above.iter().map(|s| s.to_record(name_only)).collect();
    answer["below"] = below.iter().map(|s| s.to_record(name_only)).collect();
    Ok(answer)
}

/// Ranks of the entries just above a member (in standing order). An entry of the member's value
/// shares its rank; any other value's rank is the place of its first entry in the window, except
/// for the top value, whose tie may begin above the window: that one is counted.
#[allow(clippy::too_many_arguments)]
async fn rank_above(
    store: &Store,
    tenant: &Tenant,
    board: &Leaderboard,
    span: &Span,
    above: Vec<Score>,
    me: &Score,
    my_rank: u64,
    my_position: u64,
) -> Result<Vec<Standing>, ApiError> {
    let Some(top) = above.first().map(|s| s.value) else {
        return Ok(Vec::new());
    };
    let top_rank = if top == me.value {
        my_rank
    } else {
        let better = store
            .count_before(
                tenant,
                &board.id,
                &span.key,
                &value_key(top),
                EXACT_RANK_PER_SHARD,
            )
            .await?;
        better.map_or(my_position.saturating_sub(above.len() as u64), |b| b + 1)
    };
    let first_position = my_position.saturating_sub(above.len() as u64);
    let mut out: Vec<Standing> = Vec::with_capacity(above.len());
    for (i, score) in above.into_iter().enumerate() {
        let rank = if score.value == me.value {
            my_rank
        } else if score.value == top {
            top_rank
        } else {
            match out.last() {
                Some(prev) if prev.score.value == score.value => prev.rank,
                _ => first_position + i as u64,
            }
        };
        out.push(Standing { rank, score });
    }
    Ok(out)
}

/// `around`: 0–50, default 5.
pub fn around(params: &BTreeMap<String, String>) -> Result<usize, ApiError> {
    match params.get("around") {
        None => Ok(5),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n <= MAX_AROUND => Ok(n),
            _ => Err(ApiError::field(
                "around",
                format!("must be an integer from 0 to {MAX_AROUND}"),
            )),
        },
    }
}
