//! Leaderboards (SPEC §11): board CRUD under `/schema/leaderboard/record` (admin key), a period's
//! standings and a member's rank with neighbours; an end user's own rank on `/v1/me/leaderboards`.
//! Scores are written by the stream processor, never here.

use std::collections::BTreeMap;

use app::http::Request;
use app::http::{self, Access};
use app::idempotency;
use app::leaderboards::{self, Span};
use app::members;
use domain::cursor::CursorCodec;
use domain::leaderboard::Leaderboard;
use domain::time::{self, Timestamp};
use domain::ApiError;
use engine::BoardSpan;
use lambda_http::{Body, Response};
use serde_json::json;
use store::Store;

pub struct App {
    store: Store,
    cursors: CursorCodec,
}

/// The board period a request names (`periodKey`), or the one running now.
fn span(
    board: &Leaderboard,
    params: &BTreeMap<String, String>,
    now: Timestamp,
) -> Result<Span, ApiError> {
    let (kind, tz) = (board.period.kind(), board.tz());
    let span = match params.get("periodKey") {
        None => BoardSpan::containing(kind, tz, now),
        Some(key) => BoardSpan::from_key(kind, tz, key).ok_or_else(|| {
            ApiError::field(
                "periodKey",
                "is not a period of this board: 2026-11-24 (daily), 2026-W48 (weekly), 2026-11 (monthly) or all_time",
            )
        })?,
    };
    Ok(Span {
        settles_at: span.settles_at(),
        key: span.key,
    })
}

impl App {
    pub fn new(store: Store, cursors: CursorCodec) -> Self {
        Self { store, cursors }
    }

    pub async fn from_env() -> Self {
        Self::new(Store::from_env().await, CursorCodec::from_env())
    }

    pub async fn handle(&self, req: Request<'_>) -> Response<Body> {
        idempotency::respond(&self.store, &req, self.route(&req)).await
    }

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let route = http::route_key(req);
        let access = if route == "GET /v1/me/leaderboards/{id}" {
            Access::AdminOrOwnMember
        } else {
            Access::AdminOnly
        };
        let (tenant, _) = http::authorize(req, access)?;
        let (store, now) = (&self.store, time::now());
        match route.as_str() {
            "POST /schema/leaderboard/record" => {
                http::query(req, &[])?;
                let board =
                    leaderboards::create(store, &tenant, http::json_object(req)?, now, |b| {
                        BoardSpan::containing(b.period.kind(), b.tz(), now).finish()
                    })
                    .await?;
                Ok(http::success(201, board.to_record()))
            }
            "GET /schema/leaderboard/record" => {
                let params = http::query(req, leaderboards::LIST_PARAMS)?;
                let limit = http::limit(&params)?;
                let (found, next) =
                    leaderboards::list(store, &self.cursors, &tenant, &params, limit).await?;
                Ok(http::list(
                    found.iter().map(Leaderboard::to_record).collect(),
                    limit,
                    next,
                ))
            }
            "GET /schema/leaderboard/record/{id}" => {
                http::query(req, &[])?;
                let board =
                    leaderboards::get(store, &tenant, &http::path_param(req, "id")?).await?;
                Ok(http::success(200, board.to_record()))
            }
            "PATCH /schema/leaderboard/record/{id}" => {
                http::query(req, &[])?;
                let id = http::path_param(req, "id")?;
                let board =
                    leaderboards::patch(store, &tenant, &id, http::json_object(req)?, now).await?;
                Ok(http::success(200, board.to_record()))
            }
            "DELETE /schema/leaderboard/record/{id}" => {
                http::query(req, &[])?;
                let board =
                    leaderboards::delete(store, &tenant, &http::path_param(req, "id")?).await?;
                Ok(http::success(200, json!({"id": board.id, "deleted": true})))
            }
            "GET /schema/leaderboard/record/{id}/rankings" => {
                let params = http::query(req, leaderboards::RANKINGS_PARAMS)?;
                let limit = http::limit(&params)?;
                let board =
                    leaderboards::get(store, &tenant, &http::path_param(req, "id")?).await?;
                let span = span(&board, &params, now)?;
                let (answer, next) = leaderboards::rankings(
                    store,
                    &self.cursors,
                    &tenant,
                    &board,
                    &span,
                    &params,
                    limit,
                    now,
                )
                .await?;
                Ok(http::success_with(
                    200,
                    answer,
                    &[("paging", json!({"limit": limit, "nextCursor": next}))],
                ))
            }
            "GET /schema/leaderboard/record/{id}/rankings/{memberId}" => {
                let params = http::query(req, &["periodKey", "around"])?;
                let around = leaderboards::around(&params)?;
                let board =
                    leaderboards::get(store, &tenant, &http::path_param(req, "id")?).await?;
                let span = span(&board, &params, now)?;
                let member =
                    members::resolve(store, &tenant, &http::path_param(req, "memberId")?).await?;
                let answer = leaderboards::member_rank(
                    store, &tenant, &board, &span, &member.id, around, false, now,
                )
                .await?;
                Ok(http::success(200, answer))
            }
            "GET /v1/me/leaderboards/{id}" => {
                // `/v1/me…` is the token's member; an API key has no "me".
                let me = http::own_member(req).ok_or(ApiError::Forbidden)?;
                let params = http::query(req, &["periodKey", "around"])?;
                let around = leaderboards::around(&params)?;
                let board =
                    leaderboards::get(store, &tenant, &http::path_param(req, "id")?).await?;
                let span = span(&board, &params, now)?;
                let member = members::resolve(store, &tenant, &me).await?;
                let answer = leaderboards::member_rank(
                    store, &tenant, &board, &span, &member.id, around, true, now,
                )
                .await?;
                Ok(http::success(200, answer))
            }
            _ => Err(http::no_such_route()),
        }
    }
}
