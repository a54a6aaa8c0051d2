//! The console (SPEC §12): seed 000's admin panel as a page and plain ES modules, built into this
//! binary by `build.rs` (no bucket, no build step beyond cargo). The page calls only the public API,
//! on the same origin, with the key and secret the operator types, kept in the tab's memory.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from this origin only,
//! no inline script, no framing); assets are sent gzipped when the browser accepts it, with a
//! strong ETag and `no-cache`, so a browser revalidates (a 304 with no body) instead of running a
//! stale module after a deploy.

use app::http::{self, Request};
use domain::ApiError;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

/// One built-in file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    /// Quoted, as the header carries it.
    pub etag: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The page `GET /console` answers.
pub const PAGE: &str = "index.html";

/// The policy every answer carries: nothing runs or loads but this origin's own files.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

pub struct App;

impl App {
    pub async fn handle(&self, req: Request<'_>) -> Response<Body> {
        let mut resp = http::respond(&req, async { self.route(&req) }).await;
        secure(&mut resp);
        resp
    }

    fn route(&self, req: &Request<'_>) -> Result<Response<Body>, ApiError> {
        match http::route_key(req).as_str() {
            "GET /console" if req.path().ends_with('/') => {
                // The page loads its modules relative to `…/console`: send `/console/` there.
                let to = req.path().trim_end_matches('/');
                Ok(redirect(if to.is_empty() { "/console" } else { to }))
            }
            "GET /console" => serve(req, asset(PAGE).ok_or_else(|| not_found(PAGE))?),
            "GET /console/{asset}" => {
                let name = http::path_param(req, "asset")?;
                // The page itself is `/console`, not an asset of its own.
                match asset(&name).filter(|a| a.name != PAGE) {
                    Some(found) => serve(req, found),
                    None => Err(not_found(&name)),
                }
            }
            _ => Err(http::no_such_route()),
        }
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("The console has no file {name:?}."))
}

fn redirect(to: &str) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(location) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    resp
}

fn serve(req: &Request<'_>, asset: &'static Asset) -> Result<Response<Body>, ApiError> {
    let fresh = req
        .if_none_match()
        .is_some_and(|tags| tags.split(',').any(|t| etag_matches(t, asset.etag)));
    let gzip = req.accept_encoding().is_some_and(accepts_gzip);
    let mut resp = Response::new(match (fresh, gzip) {
        (true, _) => Body::Empty,
        (false, true) => Body::Binary(asset.gzip.to_vec()),
        (false, false) => Body::Binary(asset.raw.to_vec()),
    });
    let headers = resp.headers_mut();
    if fresh {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
    } else {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    let headers = resp.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(resp)
}

/// `If-None-Match` compares weakly (RFC 9110 §13.1.2): `W/"x"` matches `"x"`; `*` matches any.
fn etag_matches(candidate: &str, etag: &str) -> bool {
    let candidate = candidate.trim();
    candidate == "*" || candidate.trim_start_matches("W/") == etag
}

/// Whether `accept-encoding` lists gzip (or `*`) with a weight above 0.
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// The headers every console answer carries, errors included.
fn secure(resp: &mut Response<Body>) {
    let headers = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_weighted_zero() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches(" W/\"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
