//! Sends a delivery over HTTP(S): a POST with the Standard Webhooks headers, at most 10 s, to an
//! address the URL policy allows. Names are resolved here and every address checked, so a public
//! name whose DNS answer is private (rebinding) is refused like a private URL.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use app::webhook_delivery::Sender;
use domain::time::Timestamp;
use domain::webhooks::delivery::{Attempt, Delivery};
use domain::webhooks::{check_url, is_private, signature, Endpoint, UrlPolicy};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves a host and keeps only the addresses `policy` allows.
#[derive(Clone)]
pub struct CheckedResolver {
    policy: UrlPolicy,
}

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| policy == UrlPolicy::AllowPrivate || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{name} has no public address"
                )));
            }
            Ok(allowed.into_iter())
        })
    }
}

type HttpsClient = Client<HttpsConnector<HttpConnector<CheckedResolver>>, Full<Bytes>>;

pub struct HttpSender {
    /// Built on the first delivery: reading the system's trust store is most of a cold start's
    /// init (BENCHMARKS.md §1), and most stream batches deliver nothing.
    client: std::sync::OnceLock<HttpsClient>,
    policy: UrlPolicy,
}

impl HttpSender {
    pub fn new(policy: UrlPolicy) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            policy,
        }
    }

    fn client(&self) -> &HttpsClient {
        self.client.get_or_init(|| https_client(self.policy))
    }
}

fn https_client(policy: UrlPolicy) -> HttpsClient {
    let mut http = HttpConnector::new_with_resolver(CheckedResolver { policy });
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let roots = rustls_native_certs::load_native_certs();
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(roots.certs);
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the default protocol versions are supported")
    .with_root_certificates(store)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

impl Sender for HttpSender {
    async fn send(&self, endpoint: &Endpoint, delivery: &Delivery, now: Timestamp) -> Attempt {
        if let Err(why) = check_url(&endpoint.url, self.policy) {
            return Attempt::NoAnswer(format!("url {why}"));
        }
        let timestamp = now.timestamp();
        let signed = signature(
            &endpoint.signing_secrets(now),
            &delivery.id,
            timestamp,
            &delivery.payload,
        );
        let request = hyper::Request::post(&endpoint.url)
            .header("content-type", "application/json")
            .header("user-agent", "gamify-webhooks/1")
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(Full::new(Bytes::from(delivery.payload.clone())));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Attempt::NoAnswer(format!("request: {e}")),
        };
        // The answer's body is not read: a status is all a delivery needs.
        match tokio::time::timeout(TIMEOUT, self.client().request(request)).await {
            Ok(Ok(response)) => Attempt::Answered(response.status().as_u16()),
            Ok(Err(e)) => Attempt::NoAnswer(format!("{e:?}").chars().take(300).collect()),
            Err(_) => Attempt::NoAnswer(format!("no answer in {} s", TIMEOUT.as_secs())),
        }
    }
}
