//! Test support for handler tests fed with the files in `events/`: load a sample event, change
//! its body, path, query or caller, run it through a handler and read the answer.

use serde_json::{json, Value};

use super::repo_root;

/// `events/<relative>` as JSON.
pub fn load(relative: &str) -> Value {
    let path = repo_root().join("events").join(relative);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The same event as seen after the authorizer accepted a key of this tenant and role.
pub fn as_caller(mut event: Value, account_id: &str, environment: &str, role: &str) -> Value {
    event["requestContext"]["authorizer"] =
        json!({"lambda": {"accountId": account_id, "environment": environment, "role": role}});
    event
}

/// The same event as API Gateway sends it when the authorizer found no valid credentials.
pub fn unauthenticated(mut event: Value) -> Value {
    event["requestContext"]["authorizer"] = json!({"lambda": {}});
    event
}

pub fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = Value::String(body.to_string());
    event
}

pub fn with_path_param(mut event: Value, name: &str, value: &str) -> Value {
    event["pathParameters"][name] = Value::String(value.to_string());
    let raw = event["rawPath"].as_str().unwrap_or_default().to_string();
    let parent = raw.rsplit_once('/').map(|(p, _)| p).unwrap_or_default();
    if raw.ends_with("user_12345") {
        event["rawPath"] = Value::String(format!("{parent}/{value}"));
    }
    event
}

pub fn with_query(mut event: Value, query: &[(&str, &str)]) -> Value {
    let raw = query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    event["rawQueryString"] = Value::String(raw);
    event["queryStringParameters"] = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    event
}

pub fn with_header(mut event: Value, name: &str, value: &str) -> Value {
    event["headers"][name] = Value::String(value.to_string());
    event
}

pub fn request(event: &Value) -> app::http::Request<'static> {
    app::http::Request::parse(&event.to_string())
        .expect("a valid API Gateway v2 event")
        .into_owned()
}

/// Status and parsed JSON body of a handler's response.
pub fn parse(response: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.into_body() {
        lambda_http::Body::Text(t) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
        lambda_http::Body::Binary(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

/// The same event as seen after the authorizer accepted an end-user token of this tenant's
/// member `external_id`.
pub fn as_end_user(
    mut event: Value,
    account_id: &str,
    environment: &str,
    external_id: &str,
) -> Value {
    event["requestContext"]["authorizer"] = json!({"lambda": {"accountId": account_id, "environment": environment, "role": "enduser", "externalId": external_id}});
    event
}
