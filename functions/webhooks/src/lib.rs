//! Webhook endpoints (SPEC §9) under `/v1/webhooks/endpoints`: create (the signing secret is
//! shown once), list, read, update, delete, rotate the secret, a test event, the delivery log and
//! replay. Admin key only. `delivery` is the delivery function (`webhook-delivery`).

pub mod delivery;
pub mod sender;

use app::http::Request;
use app::http::{self, Access};
use app::idempotency;
use app::webhooks;
use domain::cursor::CursorCodec;
use domain::time;
use domain::webhooks::{EndpointInput, UrlPolicy};
use domain::ApiError;
use lambda_http::{Body, Response};
use serde_json::json;
use store::Store;

pub struct App {
    store: Store,
    cursors: CursorCodec,
    urls: UrlPolicy,
}

impl App {
    pub fn new(store: Store, cursors: CursorCodec, urls: UrlPolicy) -> Self {
        Self {
            store,
            cursors,
            urls,
        }
    }

    /// URLs are checked with `WEBHOOKS_ALLOW_PRIVATE_URLS` (set by the local run only).
    pub async fn from_env() -> Self {
        Self::new(
            Store::from_env().await,
            CursorCodec::from_env(),
            UrlPolicy::from_env(),
        )
    }

    pub async fn handle(&self, req: Request<'_>) -> Response<Body> {
        idempotency::respond(&self.store, &req, self.route(&req)).await
    }

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let (tenant, _) = http::authorize(req, Access::AdminOnly)?;
        let now = time::now();
        let store = &self.store;
        match http::route_key(req).as_str() {
            "POST /v1/webhooks/endpoints" => {
                http::query(req, &[])?;
                let input: EndpointInput = http::json_body(req)?;
                let endpoint = webhooks::create(store, &tenant, input, self.urls, now).await?;
                Ok(http::success(201, webhooks::with_secret(&endpoint)))
            }
            "GET /v1/webhooks/endpoints" => {
                let params = http::query(req, &["limit", "cursor"])?;
                let limit = http::limit(&params)?;
                let (found, next) =
                    webhooks::list(store, &self.cursors, &tenant, &params, limit).await?;
                Ok(http::list(
                    found.iter().map(|e| e.to_record()).collect(),
                    limit,
                    next,
                ))
            }
            "GET /v1/webhooks/endpoints/{id}" => {
                http::query(req, &[])?;
                let endpoint = webhooks::get(store, &tenant, &http::path_param(req, "id")?).await?;
                Ok(http::success(200, endpoint.to_record()))
            }
            "PATCH /v1/webhooks/endpoints/{id}" => {
                http::query(req, &[])?;
                let input: EndpointInput = http::json_body(req)?;
                let id = http::path_param(req, "id")?;
                let endpoint = webhooks::patch(store, &tenant, &id, input, self.urls, now).await?;
                Ok(http::success(200, endpoint.to_record()))
            }
            "DELETE /v1/webhooks/endpoints/{id}" => {
                http::query(req, &[])?;
                let endpoint =
                    webhooks::delete(store, &tenant, &http::path_param(req, "id")?).await?;
                Ok(http::success(
                    200,
                    json!({"id": endpoint.id, "deleted": true}),
                ))
            }
            "POST /v1/webhooks/endpoints/{id}/rotate-secret" => {
                http::query(req, &[])?;
                let id = http::path_param(req, "id")?;
                let endpoint = webhooks::rotate_secret(store, &tenant, &id, now).await?;
                Ok(http::success(200, webhooks::with_secret(&endpoint)))
            }
            "GET /v1/webhooks/endpoints/{id}/deliveries" => {
                let params = http::query(req, &["limit", "cursor"])?;
                let limit = http::limit(&params)?;
                let id = http::path_param(req, "id")?;
                let (found, next) =
                    webhooks::list_deliveries(store, &self.cursors, &tenant, &id, &params, limit)
                        .await?;
                Ok(http::list(
                    found.iter().map(|d| d.to_record()).collect(),
                    limit,
                    next,
                ))
            }
            "POST /v1/webhooks/endpoints/{id}/deliveries/{deliveryId}/replay" => {
                http::query(req, &[])?;
                let id = http::path_param(req, "id")?;
                let delivery_id = http::path_param(req, "deliveryId")?;
                let delivery =
                    webhooks::replay_delivery(store, &tenant, &id, &delivery_id, now).await?;
                Ok(http::success(202, delivery.to_record()))
            }
            "POST /v1/webhooks/endpoints/{id}/test" => {
                http::query(req, &[])?;
                let id = http::path_param(req, "id")?;
                let delivery = webhooks::send_test(store, &tenant, &id, now).await?;
                Ok(http::success(202, delivery.to_record()))
            }
            _ => Err(http::no_such_route()),
        }
    }
}
