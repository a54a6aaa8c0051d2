//! Members (`account_user`, SPEC §3): CRUD, upsert, lists and the member activity lists. Admin key only.

use app::http::Request;
use app::http::{self, Access};
use app::idempotency;
use app::members;
use app::points;
use domain::cursor::CursorCodec;
use domain::member::{MemberInput, WriteMode};
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};
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
        // This function also holds the API's catch-all route: requests no route matches.
        if http::route_key(&req) == http::DEFAULT_ROUTE {
            return http::unmatched(&req);
        }
        idempotency::respond(&self.store, &req, self.route(&req)).await
    }

    async fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        let route = http::route_key(req);
        // A member's own reads also take an end-user token (its own member only).
        let access = match route.as_str() {
            "GET /schema/account_user/record/{id}" | "GET /v1/me" => Access::AdminOrOwnMember,
            r if r.starts_with("GET /schema/account_user/record/{id}/")
                || r.starts_with("GET /v1/me/") =>
            {
                Access::AdminOrOwnMember
            }
            _ => Access::AdminOnly,
        };
        let (tenant, _) = http::authorize(req, access)?;
        let own = http::own_member(req);
        let now = time::now();
        if let Some(activity) = route.strip_prefix("GET /v1/me") {
            // `/v1/me…` is the token's member; an API key has no "me".
            let me = own.ok_or(ApiError::Forbidden)?;
            return match activity.strip_prefix('/') {
                None => {
                    http::query(req, &[])?;
                    let member = members::resolve(&self.store, &tenant, &me).await?;
                    let answer = points::with_balance(&self.store, &tenant, &member, now).await?;
                    Ok(http::success(200, answer))
                }
                Some(activity) => {
                    self.activity(req, &tenant, &me, Some(&me), activity, now)
                        .await
                }
            };
        }
        match route.as_str() {
            "GET /schema/account_user/record" => {
                let params = http::query(req, members::LIST_PARAMS)?;
                let limit = http::limit(&params)?;
                let (found, next) =
                    members::list(&self.store, &self.cursors, &tenant, &params, limit).await?;
                Ok(http::list(
                    points::with_balances(&self.store, &tenant, &found, now).await?,
                    limit,
                    next,
                ))
            }
            "POST /schema/account_user/record" => {
                let params = http::query(req, &["upsert"])?;
                let upsert = match params.get("upsert").map(String::as_str) {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(_) => return Err(ApiError::field("upsert", "must be true or false")),
                };
                let input: MemberInput = http::json_body(req)?;
                if upsert {
                    let (member, created) =
                        members::upsert(&self.store, &tenant, input, WriteMode::Create, now, false)
                            .await?;
                    Ok(http::success(
                        if created { 201 } else { 200 },
                        member.to_record(now),
                    ))
                } else {
                    let member = members::create(&self.store, &tenant, input, now).await?;
                    Ok(http::success(201, member.record(now)))
                }
            }
            "GET /schema/account_user/record/{id}" => {
                http::query(req, &[])?;
                let id = http::path_param(req, "id")?;
                let member = members::resolve_as(&self.store, &tenant, &id, own.as_deref()).await?;
                let answer = points::with_balance(&self.store, &tenant, &member, now).await?;
                Ok(http::success(200, answer))
            }
            "PATCH /schema/account_user/record/{id}" => {
                http::query(req, &[])?;
                let input: MemberInput = http::json_body(req)?;
                let member = members::patch(
                    &self.store,
                    &tenant,
                    &http::path_param(req, "id")?,
                    input,
                    now,
                )
                .await?;
                Ok(http::success(200, member.record(now)))
            }
            "DELETE /schema/account_user/record/{id}" => {
                http::query(req, &[])?;
                let member =
                    members::delete(&self.store, &tenant, &http::path_param(req, "id")?).await?;
                Ok(http::success(
                    200,
                    json!({"id": member.id, "externalId": member.external_id, "deleted": true}),
                ))
            }
            other => {
                let activity = other
                    .strip_prefix("GET /schema/account_user/record/{id}/")
                    .ok_or_else(http::no_such_route)?;
                let id = http::path_param(req, "id")?;
                self.activity(req, &tenant, &id, own.as_deref(), activity, now)
                    .await
            }
        }
    }

    /// A member's logs, progress or rewards of one kind (`own`: an end user's member).
    async fn activity(
        &self,
        req: &Request<'_>,
        tenant: &Tenant,
        id: &str,
        own: Option<&str>,
        activity: &str,
        now: Timestamp,
    ) -> Result<Response<Body>, ApiError> {
        let params = http::query(req, &["limit", "cursor"])?;
        let limit = http::limit(&params)?;
        let (found, next) = app::activity::list(
            &self.store,
            &self.cursors,
            tenant,
            id,
            own,
            activity,
            &params,
            limit,
            now,
        )
        .await?;
        Ok(http::list(found, limit, next))
    }
}
