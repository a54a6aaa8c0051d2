//! The console's function on the sample events of `events/console/`: what the browser gets.

use std::io::Read;

use app::http::Request;
use lambda_http::{Body, Response};
use serde_json::Value;

fn event(name: &str) -> Value {
    let path = testkit::repo_root().join("events/console").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn answer(event: &Value) -> Response<Body> {
    let text = event.to_string();
    console::App.handle(Request::parse(&text).unwrap()).await
}

fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn bytes(resp: &Response<Body>) -> Vec<u8> {
    match resp.body() {
        Body::Binary(b) => b.clone(),
        Body::Text(t) => t.clone().into_bytes(),
        _ => Vec::new(),
    }
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn assert_locked_down(resp: &Response<Body>) {
    let csp = header(resp, "content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(header(resp, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(resp, "x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn the_page_is_sent_gzipped_with_its_policy_and_etag() {
    let resp = answer(&event("page.json")).await;
    assert_eq!(resp.status(), 200);
    assert_locked_down(&resp);
    assert_eq!(
        header(&resp, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&resp, "content-encoding"), Some("gzip"));
    assert_eq!(header(&resp, "cache-control"), Some("no-cache"));
    assert_eq!(header(&resp, "vary"), Some("accept-encoding"));
    let page = String::from_utf8(gunzip(&bytes(&resp))).unwrap();
    assert!(page.contains("<script type=\"module\" src=\"console/console.js\"></script>"));
    let etag = header(&resp, "etag").unwrap();
    assert_eq!(etag, console::asset(console::PAGE).unwrap().etag);
}

#[tokio::test]
async fn without_gzip_the_bytes_are_the_assets() {
    let mut ev = event("asset.json");
    ev["headers"]
        .as_object_mut()
        .unwrap()
        .remove("accept-encoding");
    let resp = answer(&ev).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-encoding"), None);
    assert_eq!(
        header(&resp, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let on_disk =
        std::fs::read(testkit::repo_root().join("functions/console/assets/console.js")).unwrap();
    assert_eq!(bytes(&resp), on_disk);
}

#[tokio::test]
async fn a_cached_asset_is_revalidated_with_a_304_and_no_body() {
    let first = answer(&event("asset.json")).await;
    let etag = header(&first, "etag").unwrap().to_string();
    for sent in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let mut ev = event("asset.json");
        ev["headers"]["if-none-match"] = Value::from(sent.clone());
        let resp = answer(&ev).await;
        assert_eq!(resp.status(), 304, "{sent}");
        assert!(bytes(&resp).is_empty());
        assert_eq!(header(&resp, "etag"), Some(etag.as_str()));
        assert_locked_down(&resp);
    }
    let mut ev = event("asset.json");
    ev["headers"]["if-none-match"] = Value::from("\"stale\"");
    assert_eq!(answer(&ev).await.status(), 200);
}

#[tokio::test]
async fn unknown_files_answer_404_in_the_error_envelope() {
    for name in ["nope.js", "index.html", "..%2Fsecret", ""] {
        let mut ev = event("asset.json");
        ev["rawPath"] = Value::from(format!("/console/{name}"));
        ev["pathParameters"]["asset"] = Value::from(name);
        let resp = answer(&ev).await;
        let body: Value = serde_json::from_slice(&bytes(&resp)).unwrap();
        assert_eq!(resp.status(), 404, "{name}: {body}");
        assert_eq!(body["status"], "error");
        assert_locked_down(&resp);
    }
}

#[tokio::test]
async fn a_trailing_slash_is_sent_to_the_page() {
    let mut ev = event("page.json");
    ev["rawPath"] = Value::from("/console/");
    let resp = answer(&ev).await;
    assert_eq!(resp.status(), 308);
    assert_eq!(header(&resp, "location"), Some("/console"));
}

/// Every file the page and the modules name is built in, and nothing builds markup from text:
/// values reach the page only through `textContent` and attributes (dom.js).
#[test]
fn the_assets_reference_only_each_other_and_never_parse_markup() {
    let names: Vec<&str> = console::ASSETS.iter().map(|a| a.name).collect();
    for asset in console::ASSETS {
        let text = std::str::from_utf8(asset.raw).unwrap();
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage.setItem",
            "sessionStorage.setItem",
            "document.cookie",
        ] {
            assert!(!text.contains(forbidden), "{} uses {forbidden}", asset.name);
        }
        let references = text
            .split("from './")
            .skip(1)
            .chain(text.split("href=\"console/").skip(1))
            .chain(text.split("src=\"console/").skip(1))
            .map(|rest| rest.split(['\'', '"']).next().unwrap_or_default());
        for name in references {
            assert!(
                names.contains(&name),
                "{} names {name}, not built in",
                asset.name
            );
        }
    }
    let page = std::str::from_utf8(console::asset(console::PAGE).unwrap().raw).unwrap();
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "no inline script or style"
    );
}
