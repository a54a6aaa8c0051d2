//! Activity logs (SPEC §5): create (idempotent, with inline member upsert), get and list of
//! `streak_log` or `challenge_log`, and a streak's freeze grants, `streak_freeze` (SPEC §10),
//! which are stored and served like logs. Admin key only. One crate, two Lambda binaries: the
//! streak one serves the grants too.

use app::http::Request;
use app::http::{self, Access};
use app::idempotency;
use app::lists::Scope;
use app::logs;
use domain::cursor::CursorCodec;
use domain::log::LogKind;
use domain::time;
use domain::ApiError;
use lambda_http::{Body, Response};
use serde_json::json;
use store::Store;

pub struct App {
    kind: LogKind,
    store: Store,
    cursors: CursorCodec,
}

impl App {
    pub fn new(kind: LogKind, store: Store, cursors: CursorCodec) -> Self {
        Self {
            kind,
            store,
            cursors,
        }
    }

    pub async fn from_env(kind: LogKind) -> Self {
        Self::new(kind, Store::from_env().await, CursorCodec::from_env())
    }

    pub async fn handle(&self, req: Request<'_>) -> Response<Body> {
        idempotency::respond(&self.store, &req, self.route(&req)).await
    }

    /// The kinds this function serves: a streak's logs and its freeze grants, or a challenge's
    /// logs.
    fn kinds(&self) -> &'static [LogKind] {
        match self.kind {
            LogKind::Challenge => &[LogKind::Challenge],
            LogKind::Streak | LogKind::Freeze => &[LogKind::Streak, LogKind::Freeze],
        }
    }

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let (tenant, _) = http::authorize(req, Access::AdminOnly)?;
        let route = http::route_key(req);
        let Some((kind, collection)) = self.kinds().iter().find_map(|k| {
            let collection = format!("/schema/{}/record", k.slug());
            route
                .split_once(' ')
                .is_some_and(|(_, path)| path.starts_with(&collection))
                .then_some((*k, collection))
        }) else {
            return Err(http::no_such_route());
        };
        if route == format!("POST {collection}") {
            http::query(req, &[])?;
            let created = logs::create(
                &self.store,
                &tenant,
                kind,
                http::json_object(req)?,
                time::now(),
            )
            .await?;
            return Ok(if created.replayed {
                http::success_with(
                    200,
                    created.log.to_record(),
                    &[("idempotentReplayed", json!(true))],
                )
            } else {
                http::success(201, created.log.to_record())
            });
        }
        if route == format!("GET {collection}") {
            let params = http::query(req, logs::list_params(kind))?;
            let limit = http::limit(&params)?;
            let (found, next) = logs::list(
                &self.store,
                &self.cursors,
                &tenant,
                kind,
                &params,
                Scope::Filter,
                limit,
            )
            .await?;
            return Ok(http::list(
                found.iter().map(|l| l.to_record()).collect(),
                limit,
                next,
            ));
        }
        if route == format!("GET {collection}/{{id}}") {
            http::query(req, &[])?;
            let log = logs::get(&self.store, &tenant, kind, &http::path_param(req, "id")?).await?;
            return Ok(http::success(200, log.to_record()));
        }
        // Logs are immutable: no PATCH or DELETE route exists.
        Err(http::no_such_route())
    }
}
