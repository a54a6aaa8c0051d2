//! The local gateway: reads the HTTP routes of `template.yaml`, turns each request into the API
//! Gateway HTTP API v2 event that AWS would send, runs the real authorizer on it, and calls the
//! real function handler with the authorizer's context, exactly as API Gateway does.

use std::collections::HashMap;
use std::path::Path;

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use domain::cursor::CursorCodec;
use domain::log::LogKind;
use domain::webhooks::UrlPolicy;
use lambda_http::Body;
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use store::Store;

/// One HTTP route of the template: `GET /schema/account_user/record/{id}` → binary `members`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub binary: String,
    /// False for a route with `Auth: {Authorizer: NONE}` (the console's page and modules).
    pub authorized: bool,
}

impl Route {
    pub fn route_key(&self) -> String {
        if self.is_default() {
            return app::http::DEFAULT_ROUTE.to_string();
        }
        format!("{} {}", self.method, self.path)
    }

    /// The catch-all route (an `HttpApi` event without Path and Method).
    pub fn is_default(&self) -> bool {
        self.path == app::http::DEFAULT_ROUTE
    }

    /// Path parameters when `path` matches this route.
    pub fn matches(&self, method: &str, path: &str) -> Option<HashMap<String, String>> {
        if self.is_default() || !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        if want.len() != got.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (w, g) in want.iter().zip(&got) {
            match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !g.is_empty() => {
                    let decoded = percent_encoding::percent_decode_str(g)
                        .decode_utf8_lossy()
                        .to_string();
                    params.insert(name.to_string(), decoded);
                }
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            }
        }
        Some(params)
    }
}

/// Every `HttpApi` event of every function in the template, with the function's binary name.
pub fn routes_from_template(path: &Path) -> Result<Vec<Route>, String> {
    let doc: Yaml = testkit::read_template(path)?;
    let resources = doc
        .get("Resources")
        .and_then(Yaml::as_mapping)
        .ok_or("template: no Resources")?;
    let mut routes = Vec::new();
    for (_, resource) in resources {
        if resource.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Yaml::as_mapping)
        else {
            continue;
        };
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Yaml::as_str)
            .ok_or(
                "template: a function with HTTP events has no Metadata.BuildProperties.Binary",
            )?;
        for (_, event) in events {
            if event.get("Type").and_then(Yaml::as_str) != Some("HttpApi") {
                continue;
            }
            let props = event
                .get("Properties")
                .ok_or("template: HttpApi event without Properties")?;
            let field = |k: &str| props.get(k).and_then(Yaml::as_str).map(str::to_string);
            let authorized = props
                .get("Auth")
                .and_then(|a| a.get("Authorizer"))
                .and_then(Yaml::as_str)
                != Some("NONE");
            let route = match (field("Method"), field("Path")) {
                (Some(method), Some(path)) => Route {
                    method: method.to_uppercase(),
                    path,
                    binary: binary.to_string(),
                    authorized,
                },
                // SAM makes an event without both the API's $default route.
                (None, None) => Route {
                    method: "ANY".into(),
                    path: app::http::DEFAULT_ROUTE.into(),
                    binary: binary.to_string(),
                    authorized,
                },
                _ => return Err("template: an HttpApi event has Method or Path, not both".into()),
            };
            routes.push(route);
        }
    }
    Ok(routes)
}

/// The API's CORS configuration (`GamifyApi.Properties.CorsConfiguration`), which API Gateway
/// applies before any route: it answers preflights itself and adds the headers to answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

/// A template value that is a list, or a `!Ref` to a parameter whose default is a comma list.
fn template_list(doc: &Yaml, value: Option<&Yaml>) -> Vec<String> {
    match value {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Yaml::Tagged(tagged)) if tagged.tag == "!Ref" => {
            let default = tagged
                .value
                .as_str()
                .and_then(|name| doc.get("Parameters")?.get(name)?.get("Default")?.as_str());
            default
                .map(|d| d.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

impl Cors {
    pub fn from_template(path: &Path) -> Result<Cors, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let doc: Yaml =
            serde_yaml::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?;
        let Some(config) = doc
            .get("Resources")
            .and_then(|r| r.get("GamifyApi"))
            .and_then(|a| a.get("Properties"))
            .and_then(|p| p.get("CorsConfiguration"))
        else {
            return Ok(Cors::default());
        };
        Ok(Cors {
            allow_origins: template_list(&doc, config.get("AllowOrigins")),
            allow_methods: template_list(&doc, config.get("AllowMethods")),
            allow_headers: template_list(&doc, config.get("AllowHeaders")),
            expose_headers: template_list(&doc, config.get("ExposeHeaders")),
            max_age: config.get("MaxAge").and_then(Yaml::as_u64),
        })
    }

    fn header<'a>(req: &'a IncomingRequest, name: &str) -> Option<&'a str> {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Access-Control-Allow-Origin` for this request's `Origin`, if it is allowed.
    fn allowed_origin(&self, req: &IncomingRequest) -> Option<String> {
        let origin = Self::header(req, "origin")?;
        if self.allow_origins.iter().any(|o| o == "*") {
            Some("*".into())
        } else {
            self.allow_origins
                .iter()
                .any(|o| o == origin)
                .then(|| origin.to_string())
        }
    }

    /// API Gateway's own answer to a CORS preflight (`OPTIONS` with an `Origin` and an
    /// `Access-Control-Request-Method`), or `None` for any other request.
    pub fn preflight(&self, req: &IncomingRequest) -> Option<Reply> {
        if self.allow_origins.is_empty()
            || !req.method.eq_ignore_ascii_case("OPTIONS")
            || Self::header(req, "origin").is_none()
            || Self::header(req, "access-control-request-method").is_none()
        {
            return None;
        }
        let mut headers = Vec::new();
        if let Some(origin) = self.allowed_origin(req) {
            headers.push(("access-control-allow-origin".into(), origin));
            headers.push((
                "access-control-allow-methods".into(),
                self.allow_methods.join(","),
            ));
            headers.push((
                "access-control-allow-headers".into(),
                self.allow_headers.join(","),
            ));
            if let Some(age) = self.max_age {
                headers.push(("access-control-max-age".into(), age.to_string()));
            }
        }
        Some(Reply {
            status: 204,
            headers,
            body: Vec::new(),
        })
    }

    /// The CORS headers API Gateway adds to an answer to a browser's request.
    pub fn decorate(&self, req: &IncomingRequest, reply: &mut Reply) {
        if let Some(origin) = self.allowed_origin(req) {
            reply
                .headers
                .push(("access-control-allow-origin".into(), origin));
            if !self.expose_headers.is_empty() {
                reply.headers.push((
                    "access-control-expose-headers".into(),
                    self.expose_headers.join(","),
                ));
            }
        }
    }
}

/// An HTTP request as the local server received it.
pub struct IncomingRequest {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

/// The API Gateway HTTP API (payload 2.0) event for this request on this route.
pub fn api_gateway_event(
    req: &IncomingRequest,
    route: &Route,
    path_params: &HashMap<String, String>,
    authorizer_context: Option<&Value>,
) -> Value {
    let request_id = uuid::Uuid::now_v7().to_string();
    // API Gateway lower-cases header names and joins repeated headers with commas.
    let mut headers: HashMap<String, String> = HashMap::new();
    for (k, v) in &req.headers {
        headers
            .entry(k.to_ascii_lowercase())
            .and_modify(|e| {
                e.push(',');
                e.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    let now = chrono::Utc::now();
    let (body, is_base64) = match std::str::from_utf8(&req.body) {
        _ if req.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => {
            use base64::Engine;
            (
                Value::String(base64::engine::general_purpose::STANDARD.encode(&req.body)),
                true,
            )
        }
    };
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": headers.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
        "domainPrefix": "local",
        "http": {
            "method": req.method,
            "path": req.path,
            "protocol": "HTTP/1.1",
            "sourceIp": req.source_ip,
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": request_id,
        "routeKey": route.route_key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(lambda) = authorizer_context {
        context["authorizer"] = json!({ "lambda": lambda });
    }
    let query: HashMap<String, String> =
        req.raw_query
            .split('&')
            .filter(|p| !p.is_empty())
            .fold(HashMap::new(), |mut acc, pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(&s.replace('+', " "))
                        .decode_utf8_lossy()
                        .to_string()
                };
                acc.entry(decode(k))
                    .and_modify(|e: &mut String| {
                        e.push(',');
                        e.push_str(&decode(v));
                    })
                    .or_insert_with(|| decode(v));
                acc
            });
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key(),
        "rawPath": req.path,
        "rawQueryString": req.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !path_params.is_empty() {
        event["pathParameters"] = json!(path_params);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// The authorizer's (payload 2.0) event for the same request.
pub fn authorizer_event(
    api_event: &Value,
) -> Result<ApiGatewayV2CustomAuthorizerV2Request, serde_json::Error> {
    let mut event = api_event.clone();
    event["type"] = json!("REQUEST");
    event["routeArn"] = json!(format!(
        "arn:aws:execute-api:us-east-1:000000000000:local/$default/{}",
        api_event["routeKey"]
            .as_str()
            .unwrap_or_default()
            .replacen(' ', "", 1)
    ));
    event["identitySource"] = json!([]);
    if let Some(ctx) = event
        .get_mut("requestContext")
        .and_then(Value::as_object_mut)
    {
        ctx.remove("authorizer");
    }
    event.as_object_mut().map(|o| o.remove("body"));
    serde_json::from_value(event)
}

/// The handlers of the workspace's HTTP functions, by binary name.
pub struct Functions {
    pub members: members::App,
    pub programs: programs::App,
    pub points: points::App,
    pub leaderboards: leaderboards::App,
    pub log_streak: logs::App,
    pub log_challenge: logs::App,
    pub progress_reads: progress_reads::App,
    pub track_user: track_user::App,
    pub webhooks: webhooks::App,
    pub console: console::App,
    pub authorizer: authorizer::Authorizer,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn gateway(status: u16, message: &str) -> Self {
        // API Gateway's own answers (no route, authorizer failure) have this shape.
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json!({ "message": message }).to_string().into_bytes(),
        }
    }
}

/// One HTTP function of the workspace.
#[derive(Clone, Copy)]
pub enum Function<'a> {
    Members(&'a members::App),
    Programs(&'a programs::App),
    Points(&'a points::App),
    Leaderboards(&'a leaderboards::App),
    Logs(&'a logs::App),
    ProgressReads(&'a progress_reads::App),
    TrackUser(&'a track_user::App),
    Webhooks(&'a webhooks::App),
    Console(&'a console::App),
}

impl Function<'_> {
    async fn handle(self, request: app::http::Request<'_>) -> lambda_http::Response<Body> {
        match self {
            Function::Members(app) => app.handle(request).await,
            Function::Programs(app) => app.handle(request).await,
            Function::Points(app) => app.handle(request).await,
            Function::Leaderboards(app) => app.handle(request).await,
            Function::Webhooks(app) => app.handle(request).await,
            Function::Logs(app) => app.handle(request).await,
            Function::ProgressReads(app) => app.handle(request).await,
            Function::TrackUser(app) => app.handle(request).await,
            Function::Console(app) => app.handle(request).await,
        }
    }
}

impl Functions {
    /// Every HTTP function over one store, as the deployed ones share one table.
    pub fn new(store: Store, cursors: CursorCodec, key_cache: std::time::Duration) -> Self {
        Functions {
            members: members::App::new(store.clone(), cursors.clone()),
            programs: programs::App::new(store.clone(), cursors.clone()),
            points: points::App::new(store.clone(), cursors.clone()),
            leaderboards: leaderboards::App::new(store.clone(), cursors.clone()),
            log_streak: logs::App::new(LogKind::Streak, store.clone(), cursors.clone()),
            log_challenge: logs::App::new(LogKind::Challenge, store.clone(), cursors.clone()),
            progress_reads: progress_reads::App::new(store.clone(), cursors.clone()),
            track_user: track_user::App::new(store.clone(), cursors.clone()),
            // The local run delivers to the developer's machine: private URLs are allowed.
            webhooks: webhooks::App::new(store.clone(), cursors, UrlPolicy::AllowPrivate),
            console: console::App,
            authorizer: authorizer::Authorizer::new(store, key_cache),
        }
    }

    /// The function a template binary name (`Metadata.BuildProperties.Binary`) stands for.
    pub fn function(&self, binary: &str) -> Option<Function<'_>> {
        Some(match binary {
            "members" => Function::Members(&self.members),
            "programs" => Function::Programs(&self.programs),
            "points" => Function::Points(&self.points),
            "leaderboards" => Function::Leaderboards(&self.leaderboards),
            "log-streak" => Function::Logs(&self.log_streak),
            "log-challenge" => Function::Logs(&self.log_challenge),
            "progress-reads" => Function::ProgressReads(&self.progress_reads),
            "track-user" => Function::TrackUser(&self.track_user),
            "webhooks" => Function::Webhooks(&self.webhooks),
            "console" => Function::Console(&self.console),
            _ => return None,
        })
    }

    /// Routes, authorizes and runs one request as API Gateway would.
    pub async fn dispatch(&self, routes: &[Route], req: &IncomingRequest) -> Reply {
        let matched = routes
            .iter()
            .find_map(|r| r.matches(&req.method, &req.path).map(|p| (r, p)))
            .or_else(|| {
                let catch_all = routes.iter().find(|r| r.is_default())?;
                Some((catch_all, HashMap::new()))
            });
        let Some((route, params)) = matched else {
            return Reply::gateway(404, "Not Found");
        };
        let mut event = api_gateway_event(req, route, &params, None);
        if route.authorized {
            let auth_request = match authorizer_event(&event) {
                Ok(a) => a,
                Err(_) => return Reply::gateway(500, "Internal Server Error"),
            };
            let context = match self.authorizer.handle(auth_request).await {
                Ok(resp) if resp.is_authorized => resp.context,
                Ok(_) => return Reply::gateway(403, "Forbidden"),
                Err(_) => return Reply::gateway(500, "Internal Server Error"),
            };
            event["requestContext"]["authorizer"] = json!({ "lambda": context });
        }
        let event = event.to_string();
        let request = match app::http::Request::parse(&event) {
            Ok(r) => r,
            Err(_) => return Reply::gateway(400, "Bad Request"),
        };
        let Some(function) = self.function(&route.binary) else {
            return Reply::gateway(500, "Internal Server Error");
        };
        let response = function.handle(request).await;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = match response.into_body() {
            Body::Text(t) => t.into_bytes(),
            Body::Binary(b) => b,
            _ => Vec::new(),
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}
