//! The HTTP edge shared by every function: credentials from the authorizer, body and query parsing,
//! the success/list/error envelopes (SPEC §2). Errors become responses here and nowhere else.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::{Body, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use domain::error::{ApiError, FieldError};
use domain::tenant::{Environment, Role, Tenant};

pub use crate::request::Request;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 1000;
/// The longest id, `externalId` or filter value a route looks up (256 characters of up to four
/// bytes each). Longer values cannot be in a key: refused before the store sees them (DynamoDB
/// refuses keys over 2,048 / 1,024 bytes with an error that would be a 500).
pub const MAX_LOOKUP_BYTES: usize = 1024;

/// Every route of the API, as template.yaml declares them (a test keeps the two equal): what a
/// request that no route matches is told (`unmatched`).
pub const ROUTES: &[&str] = &[
    "GET /schema/account_user/record",
    "POST /schema/account_user/record",
    "GET /schema/account_user/record/{id}",
    "PATCH /schema/account_user/record/{id}",
    "DELETE /schema/account_user/record/{id}",
    "GET /v1/me",
    "GET /v1/me/streak_progress",
    "GET /v1/me/challenge_progress",
    "GET /v1/me/reward_log",
    "GET /schema/account_user/record/{id}/streak_progress",
    "GET /schema/account_user/record/{id}/challenge_progress",
    "GET /schema/account_user/record/{id}/streak_log",
    "GET /schema/account_user/record/{id}/challenge_log",
    "GET /schema/account_user/record/{id}/reward_log",
    "GET /schema/streak/record",
    "POST /schema/streak/record",
    "GET /schema/streak/record/{id}",
    "PATCH /schema/streak/record/{id}",
    "DELETE /schema/streak/record/{id}",
    "GET /schema/challenge/record",
    "POST /schema/challenge/record",
    "GET /schema/challenge/record/{id}",
    "PATCH /schema/challenge/record/{id}",
    "DELETE /schema/challenge/record/{id}",
    "GET /schema/milestone/record",
    "POST /schema/milestone/record",
    "GET /schema/milestone/record/{id}",
    "PATCH /schema/milestone/record/{id}",
    "DELETE /schema/milestone/record/{id}",
    "POST /schema/streak_log/record",
    "GET /schema/streak_log/record",
    "GET /schema/streak_log/record/{id}",
    "POST /schema/streak_freeze/record",
    "GET /schema/streak_freeze/record",
    "GET /schema/streak_freeze/record/{id}",
    "POST /schema/challenge_log/record",
    "GET /schema/challenge_log/record",
    "GET /schema/challenge_log/record/{id}",
    "POST /schema/points_log/record",
    "GET /schema/points_log/record",
    "GET /schema/points_log/record/{id}",
    "POST /schema/leaderboard/record",
    "GET /schema/leaderboard/record",
    "GET /schema/leaderboard/record/{id}",
    "PATCH /schema/leaderboard/record/{id}",
    "DELETE /schema/leaderboard/record/{id}",
    "GET /schema/leaderboard/record/{id}/rankings",
    "GET /schema/leaderboard/record/{id}/rankings/{memberId}",
    "GET /v1/me/leaderboards/{id}",
    "GET /schema/streak_progress/record",
    "GET /schema/streak_progress/record/{id}",
    "GET /schema/challenge_progress/record",
    "GET /schema/challenge_progress/record/{id}",
    "GET /schema/reward_log/record",
    "GET /schema/reward_log/record/{id}",
    "PATCH /schema/reward_log/record/{id}",
    "POST /v1/webhooks/endpoints",
    "GET /v1/webhooks/endpoints",
    "GET /v1/webhooks/endpoints/{id}",
    "PATCH /v1/webhooks/endpoints/{id}",
    "DELETE /v1/webhooks/endpoints/{id}",
    "POST /v1/webhooks/endpoints/{id}/rotate-secret",
    "POST /v1/webhooks/endpoints/{id}/test",
    "GET /v1/webhooks/endpoints/{id}/deliveries",
    "POST /v1/webhooks/endpoints/{id}/deliveries/{deliveryId}/replay",
    "POST /v1/user-journeys/users",
    "GET /v1/user-journeys/users/{externalId}",
    "GET /v1/user-journeys/users/{externalId}/timeline",
    "POST /v1/user-journeys/events",
    "POST /v1/user-journeys/track",
    "GET /console",
    "GET /console/{asset}",
];

/// API Gateway's route key of the catch-all route that gets every request no route matches.
pub const DEFAULT_ROUTE: &str = "$default";

/// Whether `path` fits a route's path template (`{name}` stands for one non-empty segment).
fn path_fits(template: &str, path: &str) -> bool {
    let want = template.trim_matches('/').split('/');
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    want.clone().count() == got.len()
        && want
            .zip(&got)
            .all(|(w, g)| (w.starts_with('{') && !g.is_empty()) || w == *g)
}

/// The answer to a request no route matches: 405 with `Allow` when its path is a route's with
/// another method, else 404; both in the error envelope with the request id.
pub fn unmatched(req: &Request<'_>) -> Response<Body> {
    let (method, path) = (req.method(), req.path());
    let request_id = &request_id(req);
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter_map(|r| r.split_once(' '))
        .filter(|(_, template)| path_fits(template, path))
        .map(|(m, _)| m)
        .collect();
    if allowed.is_empty() {
        return error_response(
            &ApiError::NotFound(format!("No route {method} {path}.")),
            request_id,
        );
    }
    let mut resp = error_response(
        &ApiError::MethodNotAllowed(format!(
            "{method} is not allowed on {path}; use {}.",
            allowed.join(", ")
        )),
        request_id,
    );
    if let Ok(allow) = http::HeaderValue::from_str(&allowed.join(", ")) {
        resp.headers_mut().insert(http::header::ALLOW, allow);
    }
    resp
}

/// Which keys may call a route (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    AdminOnly,
    PublicOrAdmin,
    /// The secret key, or an end-user token reading its own member (`http::own_member`).
    AdminOrOwnMember,
}

/// The context fields the authorizer returns (`requestContext.authorizer.lambda`).
pub mod authorizer_context {
    pub const ACCOUNT_ID: &str = "accountId";
    pub const ENVIRONMENT: &str = "environment";
    pub const ROLE: &str = "role";
    /// Set when the key is over its rate limit: seconds until the next request may pass.
    pub const RETRY_AFTER: &str = "retryAfter";
    /// An end user's member (`userData.externalId` of its token).
    pub const EXTERNAL_ID: &str = "externalId";
}

pub fn request_id(req: &Request<'_>) -> String {
    req.request_id()
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The caller's tenant, if the authorizer authenticated it and its role may use this route.
pub fn authorize(req: &Request<'_>, access: Access) -> Result<(Tenant, Role), ApiError> {
    let fields = req.authorizer().ok_or(ApiError::Unauthorized)?;
    let get = |k: &str| fields.get(k);
    let account_id = get(authorizer_context::ACCOUNT_ID).filter(|a| !a.is_empty());
    let environment = get(authorizer_context::ENVIRONMENT).and_then(Environment::parse);
    let role = get(authorizer_context::ROLE).and_then(Role::parse);
    let (Some(account_id), Some(environment), Some(role)) = (account_id, environment, role) else {
        return Err(ApiError::Unauthorized);
    };
    let allowed = match access {
        Access::AdminOnly => role == Role::Admin,
        Access::PublicOrAdmin => role != Role::EndUser,
        Access::AdminOrOwnMember => role != Role::Public,
    };
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    if role == Role::EndUser && get(authorizer_context::EXTERNAL_ID).is_none_or(str::is_empty) {
        return Err(ApiError::Unauthorized);
    }
    if let Some(seconds) = get(authorizer_context::RETRY_AFTER) {
        return Err(ApiError::RateLimited(seconds.parse().unwrap_or(1)));
    }
    Ok((Tenant::new(account_id, environment), role))
}

/// The member an end-user token speaks for; `None` for API keys.
pub fn own_member(req: &Request<'_>) -> Option<String> {
    let fields = req.authorizer()?;
    if fields.get(authorizer_context::ROLE) != Some(Role::EndUser.as_str()) {
        return None;
    }
    fields
        .get(authorizer_context::EXTERNAL_ID)
        .map(str::to_string)
}

/// Parses a JSON object body into `T`: 413 over 64 KiB, 415 unless JSON, 400 `invalid_json` for
/// malformed JSON or a non-object, 400 `validation_failed` naming the field for type errors and
/// unknown fields.
pub fn json_body<T: DeserializeOwned>(req: &Request<'_>) -> Result<T, ApiError> {
    // The common case in one pass: an object that decodes straight from the bytes. Any other body
    // takes the two-step path, whose answer (which error, naming which field) is the contract.
    let bytes = req.body();
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object && bytes.len() <= MAX_BODY_BYTES && is_json_media(req) {
        if let Ok(value) = serde_json::from_slice(bytes) {
            return Ok(value);
        }
    }
    domain::validate::decode(json_object(req)?)
}

/// Whether the request's `Content-Type` is JSON (`application/json` or `…+json`).
fn is_json_media(req: &Request<'_>) -> bool {
    let content_type = req.content_type().unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let media = media.as_bytes();
    media.eq_ignore_ascii_case(b"application/json")
        || (media.len() >= 5 && media[media.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// The body as a JSON object (the checks of `json_body`, without decoding into a type).
pub fn json_object(req: &Request<'_>) -> Result<Value, ApiError> {
    let bytes = req.body();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if !bytes.is_empty() && !is_json_media(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.is_empty() {
        return Err(ApiError::InvalidJson(
            "A JSON object body is required.".into(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidJson(format!("The body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::InvalidJson(
            "The body must be a JSON object.".into(),
        ));
    }
    Ok(value)
}

/// Query parameters, refusing names the route does not know (catches typos like `?Status=`).
pub fn query(req: &Request<'_>, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, value) in req.query_pairs() {
        if !allowed.contains(&&*name) {
            errors.push(FieldError::new(&*name, "is not a known query parameter"));
        } else if name != "cursor" && value.len() > MAX_LOOKUP_BYTES {
            errors.push(FieldError::new(
                &*name,
                format!("must be at most {MAX_LOOKUP_BYTES} bytes"),
            ));
        } else {
            out.insert(name.into_owned(), value.into_owned());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `limit` of list routes: 1–1000, default 20.
pub fn limit(params: &BTreeMap<String, String>) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::field(
                "limit",
                format!("must be an integer from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// A path parameter (an id or `externalId`); one too long to be a key is no record: 404.
pub fn path_param(req: &Request<'_>, name: &str) -> Result<String, ApiError> {
    let value = req
        .path_parameter(name)
        .map(str::to_string)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::NotFound("No such route.".into()))?;
    if value.len() > MAX_LOOKUP_BYTES {
        return Err(ApiError::NotFound("No such record.".into()));
    }
    Ok(value)
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    // `to_string` (not `Value`'s `Display`, which writes through a formatter: 3× slower).
    json_text(status, serde_json::to_string(body).unwrap_or_default())
}

/// A JSON answer from its text (replays send a saved answer as it was).
pub fn json_text(status: u16, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// `{"data": data, "status": "success"}`, serialized straight from `data` (a route's answer
/// type or a `Value`).
pub fn success(status: u16, data: impl Serialize) -> Response<Body> {
    #[derive(Serialize)]
    struct Success<T> {
        data: T,
        status: &'static str,
    }
    let body = Success {
        data,
        status: "success",
    };
    match serde_json::to_string(&body) {
        Ok(text) => json_text(status, text),
        Err(e) => error_response(
            &ApiError::Internal(format!("answer: {e}")),
            &uuid::Uuid::now_v7().to_string(),
        ),
    }
}

pub fn success_with(status: u16, data: Value, extra: &[(&str, Value)]) -> Response<Body> {
    let mut body = envelope("success", "data", data);
    for (k, v) in extra {
        body.insert(k.to_string(), v.clone());
    }
    json_response(status, &Value::Object(body))
}

pub fn list(data: Vec<Value>, limit: usize, next_cursor: Option<String>) -> Response<Body> {
    let mut body = envelope("success", "data", Value::Array(data));
    body.insert(
        "paging".into(),
        json!({"limit": limit, "nextCursor": next_cursor}),
    );
    json_response(200, &Value::Object(body))
}

/// `{"status": status, key: value}`, built by moving `value` in: `json!` would copy it through
/// its serializer (a third of a member create's time).
fn envelope(status: &str, key: &str, value: Value) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("status".into(), Value::from(status));
    body.insert(key.into(), value);
    body
}

pub fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let mut error = err.to_json();
    error["requestId"] = json!(request_id);
    let body = Value::Object(envelope("error", "error", error));
    let mut resp = json_response(err.status(), &body);
    if let Some(seconds) = err.retry_after() {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    }
    resp
}

/// Runs a route body and maps its error in the one place, and logs one line per request (request
/// id, route, status, milliseconds); 5xx causes are logged with the request id.
pub async fn respond<F>(req: &Request<'_>, route: F) -> Response<Body>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = std::time::Instant::now();
    let request_id = request_id(req);
    let response = match route.await {
        Ok(resp) => resp,
        Err(err) => {
            if err.status() >= 500 {
                tracing::error!(request_id, error = %err, "request failed");
            }
            error_response(&err, &request_id)
        }
    };
    tracing::info!(
        request_id,
        route = route_key(req),
        status = response.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// What `serve` ends with: the runtime could not start or talk to Lambda.
pub type ServeError = lambda_runtime::Error;

/// The Lambda entry of every HTTP function: each API Gateway v2 event is parsed in one pass
/// (`Request`, borrowed from the event) and answered by `handle` (the function's routes, e.g.
/// `async |req| app.handle(req).await`); built once per cold start by the function's `main`, no
/// network call before the first request.
pub async fn serve<F>(handle: F) -> Result<(), ServeError>
where
    F: for<'a> AsyncFn(Request<'a>) -> Response<Body>,
{
    crate::telemetry::init();
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Box<serde_json::value::RawValue>>| async move {
            let req = Request::parse(event.payload.get())?;
            // Boxed: the routes' futures nest too deep for the compiler to lay out in one type.
            let answer: Pin<Box<dyn Future<Output = Response<Body>> + '_>> = Box::pin(handle(req));
            Ok::<_, lambda_runtime::Error>(gateway_response(answer.await))
        },
    ))
    .await
}

/// The answer as API Gateway v2 takes it from a function.
pub fn gateway_response(resp: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = resp.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.is_base64_encoded = matches!(body, Body::Binary(_));
    answer.body = match body {
        Body::Empty => None,
        body => Some(body),
    };
    answer
}

/// API Gateway's route key, e.g. `GET /schema/account_user/record/{id}`: functions dispatch on it.
pub fn route_key(req: &Request<'_>) -> String {
    req.route_key().to_string()
}

pub fn no_such_route() -> ApiError {
    ApiError::no_such_route()
}
