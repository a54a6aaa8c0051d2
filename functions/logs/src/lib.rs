//! Activity logs (SPEC §5): create (idempotent, with inline member upsert), get and list of
//! `streak_log` or `challenge_log`. Admin key only. One crate, two Lambda binaries.

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

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let (tenant, _) = http::authorize(req, Access::AdminOnly)?;
        let collection = format!("/schema/{}/record", self.kind.slug());
        let route = http::route_key(req);
        if route == format!("POST {collection}") {
            http::query(req, &[])?;
            let created = logs::create(
                &self.store,
                &tenant,
                self.kind,
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
            let params = http::query(req, &logs::list_params(self.kind))?;
            let limit = http::limit(&params)?;
            let (found, next) = logs::list(
                &self.store,
                &self.cursors,
                &tenant,
                self.kind,
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
            let log = logs::get(
                &self.store,
                &tenant,
                self.kind,
                &http::path_param(req, "id")?,
            )
            .await?;
            return Ok(http::success(200, log.to_record()));
        }
        // Logs are immutable: no PATCH or DELETE route exists.
        Err(http::no_such_route())
    }
}
