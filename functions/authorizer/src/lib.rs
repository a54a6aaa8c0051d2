//! API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses).
//!
//! It authenticates: `x-api-key` (+ `x-api-secret` for secret keys) → account, environment, role;
//! or an end-user token (`x-enduser-access-token` + `x-account-id`) → its account, environment
//! and member, role `enduser`.
//! It always answers `isAuthorized: true`, with the principal in the context when the credentials
//! are valid and without it otherwise, so that the function answers 401/403 in the product's error
//! envelope with a request id (a simple-response deny would be API Gateway's bare 403 for both).
//! Authorization (which role may call which route) is `app::http::authorize`, in one place.

use std::time::{Duration, Instant};

use app::cache::Recent;
use app::http::authorizer_context as ctx;
use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use domain::api_keys::{self, Credentials, KeyRecord};
use domain::end_user;
use domain::rate_limit::{retry_after_seconds, RateLimiter};
use domain::tenant::Role;
use serde_json::{json, Value};
use store::{Store, StoreError};

pub struct Authorizer {
    store: Store,
    /// Per-key rate limits: the authorizer sees every request (its gateway cache is off).
    limiter: RateLimiter,
    /// Key records per warm instance, so most requests cost no read; a key's status change is
    /// seen within `ttl`.
    keys: Recent<Option<KeyRecord>>,
}

/// Largest cache before it is cleared; bounds memory under a flood of random keys.
const MAX_CACHED_KEYS: usize = 10_000;

impl Authorizer {
    /// Rate limits from `RATE_LIMIT_PUBLIC` / `RATE_LIMIT_SECRET` (or the defaults); a value
    /// that does not parse stops the function at start-up.
    pub fn new(store: Store, ttl: Duration) -> Self {
        let limiter = RateLimiter::from_env().unwrap_or_else(|e| panic!("{e}"));
        Self {
            store,
            limiter,
            keys: Recent::new(ttl, MAX_CACHED_KEYS),
        }
    }

    pub fn with_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = limiter;
        self
    }

    pub async fn from_env() -> Self {
        let seconds = std::env::var("AUTH_CACHE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30);
        Self::new(Store::from_env().await, Duration::from_secs(seconds))
    }

    async fn key(&self, api_key: &str) -> Result<Option<KeyRecord>, StoreError> {
        if let Some(record) = self.keys.get(api_key) {
            return Ok(record);
        }
        let record = self.store.get_key(api_key).await?;
        self.keys.put(api_key.to_string(), record.clone());
        Ok(record)
    }

    /// The context for the function: the principal, or nothing when the credentials do not verify.
    pub async fn authenticate(&self, creds: Credentials<'_>) -> Result<Value, StoreError> {
        let Some(api_key) = creds.api_key.filter(|k| !k.is_empty() && k.len() <= 128) else {
            return Ok(json!({}));
        };
        let Some(record) = self.key(api_key).await? else {
            return Ok(json!({}));
        };
        if !api_keys::verify(&record, &creds, domain::time::now()) {
            return Ok(json!({}));
        }
        let context = json!({
            ctx::ACCOUNT_ID: record.account_id,
            ctx::ENVIRONMENT: record.environment.as_str(),
            ctx::ROLE: record.role.as_str(),
        });
        Ok(self.limited(context, api_key, record.role))
    }

    /// `context`, counted against `bucket`'s limit: over it, `retryAfter` is added and the
    /// function answers 429 with Retry-After, in the error envelope.
    fn limited(&self, mut context: Value, bucket: &str, role: Role) -> Value {
        if let Err(wait) = self.limiter.check(bucket, role, Instant::now()) {
            context[ctx::RETRY_AFTER] = json!(retry_after_seconds(wait).to_string());
        }
        context
    }

    /// The context for an end-user token (`x-enduser-access-token` + `x-account-id`): its member,
    /// or nothing when the token does not verify against the key record its `kid` names.
    pub async fn authenticate_end_user(
        &self,
        token: &str,
        account_id: &str,
    ) -> Result<Value, StoreError> {
        let Some(token) = end_user::parse(token).filter(|t| t.kid.len() <= 128) else {
            return Ok(json!({}));
        };
        let Some(record) = self.key(&token.kid).await? else {
            return Ok(json!({}));
        };
        let Some(user) = end_user::verify(&token, &record, account_id, domain::time::now()) else {
            return Ok(json!({}));
        };
        // One bucket per app user: one cannot use up the backend's budget.
        let bucket = format!("{}#{}", token.kid, user.external_id);
        let context = json!({
            ctx::ACCOUNT_ID: user.tenant.account_id,
            ctx::ENVIRONMENT: user.tenant.environment.as_str(),
            ctx::ROLE: Role::EndUser.as_str(),
            ctx::EXTERNAL_ID: user.external_id,
        });
        Ok(self.limited(context, &bucket, Role::EndUser))
    }

    pub async fn handle(
        &self,
        event: ApiGatewayV2CustomAuthorizerV2Request,
    ) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, lambda_runtime::Error> {
        let header = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok());
        let context = match header("x-enduser-access-token") {
            Some(token) => {
                let account_id = header("x-account-id").unwrap_or_default();
                self.authenticate_end_user(token, account_id).await
            }
            None => {
                let creds = Credentials {
                    api_key: header("x-api-key"),
                    api_secret: header("x-api-secret"),
                };
                self.authenticate(creds).await
            }
        };
        let context = context.map_err(|e| {
            tracing::error!(error = ?e, "authorizer could not read keys");
            format!("{e:?}")
        })?;
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        response.is_authorized = true;
        response.context = context;
        Ok(response)
    }
}
