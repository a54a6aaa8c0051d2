//! `Idempotency-Key` on POSTs, with Stripe's semantics: a retry with the same key and the same
//! request gets the first answer again for 24 h without running twice (header
//! `Idempotent-Replayed: true`); the same key with another request answers 409, as does a retry
//! while the first request still runs. Keys are per tenant.
//!
//! Only successful answers are kept: a refused (4xx) or failed (5xx) request did nothing, so its
//! key is released and a corrected retry runs. A claim whose request never finished (the function
//! timed out) frees itself after `CLAIM_SECONDS`.

use std::future::Future;

use chrono::Duration;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use store::{Claim, SavedAnswer, Store};

use crate::http::{self, Access, Request};
use domain::time;
use domain::ApiError;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const KEEP_HOURS: i64 = 24;
/// Longer than any function's timeout (template.yaml).
const CLAIM_SECONDS: i64 = 120;
const MAX_KEY_CHARS: usize = 255;

/// `http::respond` with `Idempotency-Key` on POSTs: what every HTTP function's `handle` answers.
/// The route's future is boxed before the answer's is built (debug builds' futures are large, and
/// this one holds the route's across the store calls around it).
pub fn respond<'a, F>(
    store: &'a Store,
    req: &'a Request,
    route: F,
) -> impl Future<Output = Response<Body>> + 'a
where
    F: Future<Output = Result<Response<Body>, ApiError>> + 'a,
{
    let route = Box::pin(route);
    async move { http::respond(req, once(store, req, route)).await }
}

/// Runs `route` at most once per key: see the module's comment. Without the header (or on a
/// method other than POST) it just runs `route`.
pub async fn once<F>(store: &Store, req: &Request<'_>, route: F) -> Result<Response<Body>, ApiError>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let Some(raw) = req.idempotency_key() else {
        return route.await;
    };
    if req.method() != "POST" {
        return route.await;
    }
    let key = Some(raw)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_CHARS)
        .filter(|k| k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    // Keys are the tenant's: a request the authorizer did not admit is refused by the route.
    let Ok((tenant, _)) = http::authorize(req, Access::PublicOrAdmin) else {
        return route.await;
    };
    let fingerprint = fingerprint(req);
    let now = time::now();
    let claim = store
        .claim_idempotency_key(
            &tenant,
            key,
            &fingerprint,
            now,
            now + Duration::seconds(CLAIM_SECONDS),
        )
        .await?;
    match claim {
        Claim::Claimed => {}
        Claim::Answered {
            fingerprint: first,
            answer,
        } if first == fingerprint => return Ok(replay(answer)),
        Claim::InFlight { fingerprint: first } if first == fingerprint => {
            return Err(ApiError::Conflict(
                "A request with this Idempotency-Key is still in progress; retry later.".into(),
            ))
        }
        _ => {
            return Err(ApiError::Conflict(
                "This Idempotency-Key was already used with a different request.".into(),
            ))
        }
    }
    let result = route.await;
    let kept = match &result {
        Ok(resp) if resp.status().is_success() => {
            let answer = SavedAnswer {
                status: resp.status().as_u16(),
                body: String::from_utf8_lossy(resp.body().as_ref()).into_owned(),
            };
            let until = time::now() + Duration::hours(KEEP_HOURS);
            store
                .save_idempotent_answer(&tenant, key, &fingerprint, &answer, until)
                .await
        }
        _ => {
            store
                .release_idempotency_key(&tenant, key, &fingerprint)
                .await
        }
    };
    if let Err(e) = kept {
        // The request itself is done: answer it. Its key frees itself after CLAIM_SECONDS.
        tracing::warn!(error = ?e, "idempotency key not updated");
    }
    result
}

/// What makes two requests "the same": route, path, query and body, the body in the canonical
/// form log replays use (key order, whitespace and number spelling do not count).
fn fingerprint(req: &Request<'_>) -> String {
    let bytes = req.body();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
    };
    domain::log::request_hash(&json!({
        "route": http::route_key(req),
        "path": req.path(),
        "query": req.raw_query(),
        "body": body,
    }))
}

fn replay(answer: SavedAnswer) -> Response<Body> {
    let mut resp = http::json_text(answer.status, answer.body);
    resp.headers_mut().insert(
        REPLAYED_HEADER,
        lambda_http::http::HeaderValue::from_static("true"),
    );
    resp
}
