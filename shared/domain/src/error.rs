//! Typed API errors and their one mapping to HTTP status and error codes (SPEC §2).

use std::fmt;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every way a request can fail. Handlers return these; `http::error_response` is the only
/// place that turns them into status codes and bodies.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `validation_failed`: the body or query parsed but broke a rule.
    Validation(Vec<FieldError>),
    /// 400 `invalid_json`: the body is not JSON or not an object.
    InvalidJson(String),
    /// 401: no credentials, or credentials that do not match a live key.
    Unauthorized,
    /// 403: valid credentials without the right to this route.
    Forbidden,
    /// 404: no such record in this tenant (or no such route).
    NotFound(String),
    /// 405: the path exists, not with this method.
    MethodNotAllowed(String),
    /// 409 `conflict`.
    Conflict(String),
    /// 409 `not_live`.
    NotLive(String),
    /// 409 `insufficient_points`: a spend larger than the member's balance.
    InsufficientPoints(String),
    /// 413: body over 64 KiB.
    PayloadTooLarge,
    /// 415: a body that is not declared as JSON.
    UnsupportedMediaType,
    /// 429: the store throttled us; the client may retry.
    Throttled,
    /// 429 `rate_limited`: the key is over its rate limit; retry after this many seconds.
    RateLimited(u64),
    /// 500: the cause is logged with the request id and never shown.
    Internal(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// 404 for a path no route serves (or a route's unknown kind).
    pub fn no_such_route() -> Self {
        ApiError::NotFound("No such route.".into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) | ApiError::InvalidJson(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) | ApiError::NotLive(_) | ApiError::InsufficientPoints(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Throttled | ApiError::RateLimited(_) => 429,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::NotLive(_) => "not_live",
            ApiError::InsufficientPoints(_) => "insufficient_points",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Throttled => "too_many_requests",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The message a client sees. Internal causes are replaced by a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Validation(details) => match details.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                _ => "The request has invalid fields.".to_string(),
            },
            ApiError::InvalidJson(m) => m.clone(),
            ApiError::Unauthorized => "Missing or invalid API credentials.".to_string(),
            ApiError::Forbidden => "This key is not allowed to use this route.".to_string(),
            ApiError::NotFound(m)
            | ApiError::MethodNotAllowed(m)
            | ApiError::Conflict(m)
            | ApiError::NotLive(m)
            | ApiError::InsufficientPoints(m) => m.clone(),
            ApiError::PayloadTooLarge => "The request body is larger than 64 KiB.".to_string(),
            ApiError::UnsupportedMediaType => {
                "The request body must be sent as application/json.".to_string()
            }
            ApiError::Throttled => "Too many requests; retry with backoff.".to_string(),
            ApiError::RateLimited(seconds) => {
                format!("This key is over its rate limit; retry after {seconds} s (Retry-After).")
            }
            ApiError::Internal(_) => "Internal error.".to_string(),
        }
    }

    /// Seconds for the `Retry-After` header of a 429.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited(seconds) => Some(*seconds),
            ApiError::Throttled => Some(1),
            _ => None,
        }
    }

    /// The error as an answer shows it (`error` of the envelope, or one item of a batch).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code(),
            "message": self.public_message(),
            "details": self.details(),
        })
    }

    pub fn details(&self) -> &[FieldError] {
        match self {
            ApiError::Validation(details) => details,
            _ => &[],
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Internal(cause) => write!(f, "internal error: {cause}"),
            other => write!(f, "{} ({})", other.code(), other.public_message()),
        }
    }
}

impl std::error::Error for ApiError {}
