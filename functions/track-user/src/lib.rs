//! GamifyHost's User Journeys (seed 001 and SPEC §7): track / enrich user, events, the batch,
//! the timeline. Public or admin key.

use app::http::Request;
use app::http::{self, Access};
use app::{idempotency, journeys, members};
use domain::cursor::CursorCodec;
use domain::member::{TrackUserInput, WriteMode};
use domain::time;
use domain::ApiError;
use lambda_http::{Body, Response};
use serde_json::json;
use store::Store;

pub struct App {
    store: Store,
    cursors: CursorCodec,
    programs: journeys::LivePrograms,
}

impl App {
    pub fn new(store: Store, cursors: CursorCodec) -> Self {
        Self {
            store,
            cursors,
            programs: journeys::LivePrograms::default(),
        }
    }

    pub async fn from_env() -> Self {
        Self::new(Store::from_env().await, CursorCodec::from_env())
    }

    pub async fn handle(&self, req: Request<'_>) -> Response<Body> {
        idempotency::respond(&self.store, &req, self.route(&req)).await
    }

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let (tenant, _) = http::authorize(req, Access::PublicOrAdmin)?;
        let now = time::now();
        let route = http::route_key(req);
        if route == "GET /v1/user-journeys/users/{externalId}/timeline" {
            let params = http::query(req, &["limit", "cursor"])?;
            let limit = http::limit(&params)?;
            let external_id = http::path_param(req, "externalId")?;
            let (events, next) = journeys::timeline(
                &self.store,
                &self.cursors,
                &tenant,
                &external_id,
                &params,
                limit,
            )
            .await?;
            return Ok(http::list(events, limit, next));
        }
        http::query(req, &[])?;
        match route.as_str() {
            "POST /v1/user-journeys/users" => {
                let input = http::json_body::<TrackUserInput>(req)?.into_member_input()?;
                // Always 200, created or updated (seed 001); a track-user call moves lastSeenAt.
                let (member, _) =
                    members::upsert(&self.store, &tenant, input, WriteMode::Upsert, now, true)
                        .await?;
                Ok(http::success(200, member.profile(&tenant, now)))
            }
            "GET /v1/user-journeys/users/{externalId}" => {
                let external_id = http::path_param(req, "externalId")?;
                let member = journeys::user(&self.store, &tenant, &external_id).await?;
                let profile =
                    journeys::profile(&self.store, &self.programs, &tenant, &member, now).await?;
                Ok(http::success(200, profile))
            }
            "POST /v1/user-journeys/events" => {
                let recorded =
                    journeys::record(&self.store, &tenant, http::json_object(req)?, now).await?;
                Ok(if recorded.replayed {
                    http::success_with(
                        200,
                        recorded.event.to_json(),
                        &[("idempotentReplayed", json!(true))],
                    )
                } else {
                    http::success(201, recorded.event.to_json())
                })
            }
            "POST /v1/user-journeys/track" => {
                let results =
                    journeys::track(&self.store, &tenant, http::json_object(req)?, now).await?;
                Ok(http::success(200, results))
            }
            _ => Err(http::no_such_route()),
        }
    }
}
