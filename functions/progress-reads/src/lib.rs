//! Progress reads (SPEC §6): `streak_progress`, `challenge_progress` and `reward_log` lists and
//! gets, as of the time of the read; `reward_log` PATCH of `couponCode`, `rewardIssuedAt`,
//! `rewardExpiryAt`. Admin key only.

use app::http::Request;
use app::http::{self, Access};
use app::lists::Scope;
use app::records::{self, RecordKind, RewardPatch};
use domain::cursor::CursorCodec;
use domain::time;
use domain::ApiError;
use lambda_http::{Body, Response};
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
        http::respond(&req, self.route(&req)).await
    }

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let (tenant, _) = http::authorize(req, Access::AdminOnly)?;
        let now = time::now();
        let route = http::route_key(req);
        let (method, path) = route.split_once(' ').ok_or_else(http::no_such_route)?;
        let mut parts = path.trim_start_matches('/').split('/');
        let (Some("schema"), Some(slug), Some("record"), rest) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(http::no_such_route());
        };
        let kind = RecordKind::from_slug(slug).ok_or_else(http::no_such_route)?;
        match (method, rest) {
            ("GET", None) => {
                let params = http::query(req, &kind.list_params())?;
                let limit = http::limit(&params)?;
                let (found, next) = records::list(
                    &self.store,
                    &self.cursors,
                    &tenant,
                    kind,
                    &params,
                    Scope::Filter,
                    limit,
                    now,
                )
                .await?;
                Ok(http::list(found, limit, next))
            }
            ("GET", Some("{id}")) => {
                http::query(req, &[])?;
                Ok(http::success(
                    200,
                    records::get(
                        &self.store,
                        &tenant,
                        kind,
                        &http::path_param(req, "id")?,
                        now,
                    )
                    .await?,
                ))
            }
            ("PATCH", Some("{id}")) if kind == RecordKind::RewardLog => {
                http::query(req, &[])?;
                let patch: RewardPatch = http::json_body(req)?;
                let reward = records::patch_reward(
                    &self.store,
                    &tenant,
                    &http::path_param(req, "id")?,
                    patch,
                    now,
                )
                .await?;
                Ok(http::success(200, reward))
            }
            _ => Err(http::no_such_route()),
        }
    }
}
