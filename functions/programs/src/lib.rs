//! Programs (SPEC §4): CRUD of `streak`, `challenge` and `milestone` under `/schema/{slug}/record`.
//! Admin key only.

use app::http::Request;
use app::http::{self, Access};
use app::idempotency;
use app::programs;
use domain::cursor::CursorCodec;
use domain::program::{ProgramInput, ProgramKind};
use domain::time;
use domain::ApiError;
use lambda_http::{Body, Response};
use serde_json::json;
use store::Store;

pub struct App {
    store: Store,
    cursors: CursorCodec,
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
        let (tenant, _) = http::authorize(req, Access::AdminOnly)?;
        let now = time::now();
        // Route keys look like `GET /schema/streak/record/{id}`.
        let route = http::route_key(req);
        let (method, path) = route.split_once(' ').ok_or_else(http::no_such_route)?;
        let mut parts = path.trim_start_matches('/').split('/');
        let (Some("schema"), Some(slug), Some("record"), rest) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(http::no_such_route());
        };
        let kind = ProgramKind::from_slug(slug).ok_or_else(http::no_such_route)?;
        match (method, rest) {
            ("GET", None) => {
                let params = http::query(req, &programs::list_params(kind))?;
                let limit = http::limit(&params)?;
                let (found, next) =
                    programs::list(&self.store, &self.cursors, &tenant, kind, &params, limit)
                        .await?;
                Ok(http::list(
                    found.iter().map(|p| p.to_record()).collect(),
                    limit,
                    next,
                ))
            }
            ("POST", None) => {
                http::query(req, &[])?;
                let input: ProgramInput = http::json_body(req)?;
                let program = programs::create(&self.store, &tenant, kind, input, now).await?;
                Ok(http::success(201, program.to_record()))
            }
            ("GET", Some("{id}")) => {
                http::query(req, &[])?;
                let program =
                    programs::get(&self.store, &tenant, kind, &http::path_param(req, "id")?)
                        .await?;
                Ok(http::success(200, program.to_record()))
            }
            ("PATCH", Some("{id}")) => {
                http::query(req, &[])?;
                let input: ProgramInput = http::json_body(req)?;
                let program = programs::patch(
                    &self.store,
                    &tenant,
                    kind,
                    &http::path_param(req, "id")?,
                    input,
                    now,
                )
                .await?;
                Ok(http::success(200, program.to_record()))
            }
            ("DELETE", Some("{id}")) => {
                http::query(req, &[])?;
                let program =
                    programs::delete(&self.store, &tenant, kind, &http::path_param(req, "id")?)
                        .await?;
                Ok(http::success(
                    200,
                    json!({"id": program.id, "deleted": true}),
                ))
            }
            _ => Err(http::no_such_route()),
        }
    }
}
