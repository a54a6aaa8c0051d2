//! Track / enrich user (seed 001, GamifyHost compatible). Public or admin key.

use app::http::{self, Access};
use app::idempotency;
use app::members;
use domain::member::{TrackUserInput, WriteMode};
use domain::time;
use domain::ApiError;
use lambda_http::{Body, Request, Response};
use store::Store;

pub struct App {
    store: Store,
}

impl App {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn from_env() -> Self {
        Self::new(Store::from_env().await)
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        idempotency::respond(&self.store, &req, self.route(&req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let (tenant, _) = http::authorize(req, Access::PublicOrAdmin)?;
        http::query(req, &[])?;
        let now = time::now();
        match http::route_key(req).as_str() {
            "POST /v1/user-journeys/users" => {
                let input = http::json_body::<TrackUserInput>(req)?.into_member_input()?;
                // Always 200, created or updated (seed 001); a track-user call moves lastSeenAt.
                let (member, _) =
                    members::upsert(&self.store, &tenant, input, WriteMode::Upsert, now, true)
                        .await?;
                Ok(http::success(200, member.to_profile(&tenant, now)))
            }
            "GET /v1/user-journeys/users/{externalId}" => {
                let external_id = http::path_param(req, "externalId")?;
                let member = self
                    .store
                    .member_by_external_id(&tenant, &external_id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound("No user with this externalId.".into()))?;
                Ok(http::success(200, member.to_profile(&tenant, now)))
            }
            _ => Err(http::no_such_route()),
        }
    }
}
