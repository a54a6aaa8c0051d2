//! The points ledger (SPEC §11): `POST /schema/points_log/record` credits or spends (idempotent by
//! `uniqueIdentifier`; a spend never overdraws), get and list of entries. Admin key only.

use app::http::Request;
use app::http::{self, Access};
use app::idempotency;
use app::points;
use domain::cursor::CursorCodec;
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
        match http::route_key(req).as_str() {
            "POST /schema/points_log/record" => {
                http::query(req, &[])?;
                let created =
                    points::create(&self.store, &tenant, http::json_object(req)?, time::now())
                        .await?;
                Ok(if created.replayed {
                    http::success_with(
                        200,
                        created.entry.to_record(),
                        &[("idempotentReplayed", json!(true))],
                    )
                } else {
                    http::success(201, created.entry.to_record())
                })
            }
            "GET /schema/points_log/record" => {
                let params = http::query(req, points::LIST_PARAMS)?;
                let limit = http::limit(&params)?;
                let (found, next) =
                    points::list(&self.store, &self.cursors, &tenant, &params, limit).await?;
                Ok(http::list(
                    found.iter().map(|e| e.to_record()).collect(),
                    limit,
                    next,
                ))
            }
            "GET /schema/points_log/record/{id}" => {
                http::query(req, &[])?;
                let entry =
                    points::get(&self.store, &tenant, &http::path_param(req, "id")?).await?;
                Ok(http::success(200, entry.to_record()))
            }
            // Entries are immutable: a correction is another entry.
            _ => Err(http::no_such_route()),
        }
    }
}
