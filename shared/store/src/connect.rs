//! Clients of the store: DynamoDB Local for the local run and the tests, AWS (Amazon's roots
//! only) in Lambda.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;

use super::*;

/// The attributes DynamoDB Local and AWS accept from every client of the local run.
pub const LOCAL_REGION: &str = "us-east-1";
pub const LOCAL_ACCESS_KEY: &str = "local";

impl Store {
    /// The dummy credentials every local client uses: DynamoDB Local keeps data per access key.
    pub fn local_credentials() -> Credentials {
        Credentials::new(LOCAL_ACCESS_KEY, LOCAL_ACCESS_KEY, None, None, "local")
    }

    /// A client for DynamoDB Local: fixed dummy credentials and region so every local client
    /// (functions, admin CLI, tests) sees the same data.
    pub fn local_client(endpoint: &str) -> Client {
        // DynamoDB Local speaks plain HTTP: no TLS stack to set up.
        Self::local_client_over(
            endpoint,
            aws_smithy_http_client::Builder::new().build_http(),
        )
    }

    /// `local_client` over a given HTTP client (the local tools wrap it to observe or repair).
    pub fn local_client_over(
        endpoint: &str,
        http_client: aws_sdk_dynamodb::config::SharedHttpClient,
    ) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(Self::local_credentials())
            .endpoint_url(endpoint)
            .build();
        Client::from_conf(config)
    }

    /// `TABLE_NAME` names the table; `DYNAMODB_ENDPOINT`, when set, points at DynamoDB Local.
    /// Built once per cold start; makes no network call.
    pub async fn from_env() -> Self {
        let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "gamify".to_string());
        let client = match std::env::var("DYNAMODB_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Self::local_client(&endpoint),
            _ => Self::aws_client().await,
        };
        Self::new(client, table)
    }

    /// A client from the standard AWS configuration chain (environment variables in Lambda).
    pub async fn aws_client() -> Client {
        Client::new(&Self::aws_config().await)
    }

    /// The AWS configuration every AWS client of the product uses (the standard credential
    /// chain; TLS trusting Amazon's roots only).
    pub async fn aws_config() -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(amazon_https_client())
            .load()
            .await
    }
}

/// The roots of Amazon Trust Services (and the Starfield root they are cross-signed by): every
/// DynamoDB endpoint's certificate chains to one of them.
pub(super) const AMAZON_ROOTS: &str = include_str!("amazon-roots.pem");

/// The SDK's HTTPS client trusting Amazon's roots only. The default client reads and parses the
/// system's whole trust store when it is built, which was most of a cold start's init (BENCHMARKS.md).
pub(super) fn amazon_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS.as_bytes());
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    // Escape hatch (e.g. a TLS-inspecting proxy in front of DynamoDB): the system's roots.
    if std::env::var_os("TRUST_SYSTEM_ROOTS").is_some() {
        return builder.build_https();
    }
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Not expected (the roots are compiled in); the system's trust store still works.
        Err(_) => builder.build_https(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn the_compiled_in_roots_are_amazons() {
        let names: Vec<&str> = AMAZON_ROOTS
            .lines()
            .filter(|l| l.starts_with("-----BEGIN CERTIFICATE"))
            .collect();
        assert_eq!(
            names.len(),
            5,
            "Amazon Root CA 1–4 and Starfield Services G2"
        );
        let trust = aws_smithy_http_client::tls::TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_ROOTS.as_bytes());
        assert!(aws_smithy_http_client::tls::TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .is_ok());
    }
}
