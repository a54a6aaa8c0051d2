//! `make run`: the whole product on this machine.
//!
//! 1. starts DynamoDB Local on 127.0.0.1:$DYNAMODB_PORT (default 8000; data kept in `.local/`,
//!    or in memory with `--in-memory`), unless `DYNAMODB_ENDPOINT` names one already running;
//! 2. creates the table exactly as `template.yaml` declares it;
//! 3. creates a demo account on first start and prints its keys (kept in `.local/demo-account.json`);
//! 4. serves every HTTP route of `template.yaml` through the real authorizer and handlers on
//!    http://127.0.0.1:$PORT (default 3000), printing a line with `ready` once it accepts requests,
//!    and the OpenAPI document at `GET /openapi.yaml`.
//!
//! Ctrl-C (or SIGTERM) stops everything it started.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::accounts::{self, CreatedAccount};
use gamify_local::{routes_from_template, Cors, Functions, IncomingRequest, Route};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use store::Store;
use testkit::stream::{self, StreamFilter, StreamPoller};
use testkit::{DynamoLocal, TableSpec};
use tokio::net::TcpListener;

/// API Gateway refuses payloads over 10 MB before any function runs; so do we.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

fn env_u16(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name}={v} is not a number from 0 to 65535")),
        Err(_) => Ok(default),
    }
}

async fn demo_account(
    store: &Store,
    saved: Option<&PathBuf>,
) -> Result<(CreatedAccount, bool), String> {
    // Reuse the saved demo account while its key is still in the store.
    if let Some(text) = saved.and_then(|path| std::fs::read_to_string(path).ok()) {
        if let Ok(account) = serde_json::from_str::<CreatedAccount>(&text) {
            if matches!(store.get_key(&account.live.api_key).await, Ok(Some(_))) {
                return Ok((account, false));
            }
        }
    }
    let created = accounts::create(store, "Demo account")
        .await
        .map_err(|e| format!("create the demo account: {e:?}"))?;
    if let Some(path) = saved {
        let json = serde_json::to_string_pretty(&created).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok((created, true))
}

/// The API's OpenAPI document, served at `GET /openapi.yaml` (not a route of the deployed API).
const OPENAPI: &str = include_str!("../../../openapi.yaml");

async fn serve_one(
    functions: Arc<Functions>,
    routes: Arc<Vec<Route>>,
    cors: Arc<Cors>,
    remote: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    if req.method() == hyper::Method::GET && req.uri().path() == "/openapi.yaml" {
        let mut resp = hyper::Response::new(Full::new(Bytes::from_static(OPENAPI.as_bytes())));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/yaml"),
        );
        return Ok(resp);
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, GATEWAY_MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
                b"{\"message\":\"Request Entity Too Large\"}",
            )));
            *resp.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(resp);
        }
    };
    let incoming = IncomingRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
        source_ip: remote.ip().to_string(),
    };
    let started = std::time::Instant::now();
    let (method, path) = (incoming.method.clone(), incoming.path.clone());
    let reply = match cors.preflight(&incoming) {
        Some(reply) => reply,
        None => {
            let mut reply = functions.dispatch(&routes, &incoming).await;
            cors.decorate(&incoming, &mut reply);
            reply
        }
    };
    tracing::info!(%method, %path, status = reply.status, ms = started.elapsed().as_millis() as u64, "request");
    let mut resp = hyper::Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

/// What Lambda's event source mapping does for `ProgressFunction`: poll the stream after the
/// checkpoint, invoke the handler with each batch, retry what fails with backoff, park what fails
/// every retry in `failures` (the on-failure destination; `gamify-admin redrive` re-drives it).
/// Returns only when the store stopped answering for `give_up`.
async fn run_stream_processor(
    mut poller: StreamPoller,
    processor: progress::Processor,
    filter: StreamFilter,
    failures: Option<PathBuf>,
    give_up: Duration,
) -> String {
    let (processor, filter) = (&processor, &filter);
    let process = |event| async move {
        let event = filter.apply(event);
        if event.records.is_empty() {
            return Vec::new();
        }
        processor
            .handle(event)
            .await
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect()
    };
    let park = |messages: Vec<stream::FailureMessage>| match &failures {
        Some(path) => stream::append_failures(path, &messages),
        None => Ok(()),
    };
    match stream::run(&mut poller, process, park, give_up).await {
        Ok(()) => "the stream processor stopped".into(),
        Err(e) => e,
    }
}

/// What the delivery function's event source mapping and schedule do on AWS: its own reading of
/// the stream (its own checkpoint) and a sweep of due retries every second.
async fn run_webhook_delivery(
    mut poller: StreamPoller,
    delivery: webhooks::delivery::DeliveryFunction,
    filter: StreamFilter,
    give_up: Duration,
) -> String {
    let (delivery, filter) = (&delivery, &filter);
    let process = |event: aws_lambda_events::dynamodb::Event| async move {
        let event = filter.apply(event);
        if event.records.is_empty() {
            return Vec::new();
        }
        match delivery.on_stream(&event).await {
            Ok(_) => Vec::new(),
            // Retried by the runner, like a failed Lambda invocation.
            Err(e) => {
                tracing::warn!(error = ?e, "webhook delivery failed; retrying the batch");
                event
                    .records
                    .iter()
                    .filter_map(|r| r.change.sequence_number.clone())
                    .collect()
            }
        }
    };
    let park = |_: Vec<stream::FailureMessage>| Ok(());
    let sweep = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = delivery.sweep().await {
                tracing::warn!(error = ?e, "webhook sweep failed");
            }
        }
    };
    tokio::select! {
        stopped = stream::run(&mut poller, process, park, give_up) => match stopped {
            Ok(()) => "webhook delivery stopped".into(),
            Err(e) => e,
        },
        _ = sweep => "the webhook sweep stopped".into(),
    }
}

/// What the clock-sweep function's schedule does on AWS (every minute), every second: deadlines
/// that passed are stored and sent within seconds (SPEC §10). A failed sweep is retried by the
/// next one.
/// The clock's sweep every second (on AWS: every minute). `GAMIFY_CLOCK_AHEAD_SECONDS` runs the
/// sweep's clock ahead of the real one, so that a deadline (a local midnight) acts in seconds for
/// a demo or a test; nothing else of the product moves. Never set on AWS.
async fn run_clock_sweep(store: Store, ahead: chrono::Duration) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(e) = processor::sweep::sweep(&store, domain::time::now() + ahead).await {
            tracing::warn!(error = ?e, "clock sweep failed");
        }
    }
}

async fn run() -> Result<(), String> {
    let in_memory = std::env::args().any(|a| a == "--in-memory");
    let port = env_u16("PORT", 3000)?;
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "gamify".into());
    let data_dir =
        PathBuf::from(std::env::var("GAMIFY_DATA_DIR").unwrap_or_else(|_| ".local".into()));

    // Bind first: a busy port fails fast, before anything else starts.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port} ({e}); set PORT to another port")
    })?;

    if !in_memory {
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("create {}: {e}", data_dir.display()))?;
    }
    let (endpoint, mut dynamo) = match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            println!("Using DynamoDB at {endpoint}");
            (endpoint, None)
        }
        _ => {
            let dynamo_port = env_u16("DYNAMODB_PORT", 8000)?;
            std::net::TcpListener::bind(("127.0.0.1", dynamo_port)).map_err(|e| {
                format!("cannot start DynamoDB Local on 127.0.0.1:{dynamo_port} ({e}); set DYNAMODB_PORT to another port")
            })?;
            let db_dir = (!in_memory).then(|| data_dir.join("dynamodb"));
            let dynamo = DynamoLocal::start(dynamo_port, db_dir.as_deref()).await?;
            match &db_dir {
                Some(d) => println!(
                    "DynamoDB Local on {} (data in {})",
                    dynamo.endpoint,
                    d.display()
                ),
                None => println!("DynamoDB Local on {} (in memory)", dynamo.endpoint),
            }
            (dynamo.endpoint.clone(), Some(dynamo))
        }
    };
    // Every function of the local run talks to this endpoint and table, like TABLE_NAME in the template.
    std::env::set_var("DYNAMODB_ENDPOINT", &endpoint);
    std::env::set_var("TABLE_NAME", &table);

    let template = testkit::template_path();
    TableSpec::from_template(&template)?
        .ensure(&Store::local_client(&endpoint), &table)
        .await?;
    println!(
        "Table {table} in place, as declared in {}",
        template.display()
    );

    let store = Store::from_env().await;
    let saved = (!in_memory).then(|| data_dir.join("demo-account.json"));
    let (demo, created) = demo_account(&store, saved.as_ref()).await?;
    println!(
        "Demo account ({}): {}",
        if created {
            "created"
        } else {
            "from an earlier start"
        },
        serde_json::to_string(&demo).map_err(|e| e.to_string())?
    );

    let functions = Arc::new(Functions::new(
        Store::from_env().await,
        domain::cursor::CursorCodec::from_env(),
        Duration::from_secs(2),
    ));
    let routes = routes_from_template(&template)?;
    for route in &routes {
        if functions.function(&route.binary).is_none() {
            return Err(format!(
                "template route {} uses binary {} which the local run does not know",
                route.route_key(),
                route.binary
            ));
        }
    }
    let routes = Arc::new(routes);
    let cors = Arc::new(Cors::from_template(&template)?);
    println!("{} routes from template.yaml", routes.len());
    // Batches as large as Lambda's event source mapping makes them (template.yaml: BatchSize).
    let mut poller = StreamPoller::new(&store, &endpoint)
        .await?
        .with_batch_size(1000);
    if !in_memory {
        poller = poller.with_checkpoint(data_dir.join("stream-checkpoint.json"));
    }
    let resumed = poller.checkpoint().shards.len();
    let processor = progress::Processor::from_env().await;
    let give_up = Duration::from_secs(u64::from(env_u16("STORE_DOWN_EXIT_SECONDS", 30)?));
    let failures = (!in_memory).then(|| data_dir.join("stream-failures.jsonl"));
    // Each function gets the records its event source's FilterCriteria let through on AWS.
    let progress_filter = StreamFilter::from_template(&template, "progress")?;
    let mut stream_processor = tokio::spawn(run_stream_processor(
        poller,
        processor,
        progress_filter,
        failures,
        give_up,
    ));
    let mut webhook_poller = StreamPoller::new(&store, &endpoint)
        .await?
        .with_batch_size(100);
    if !in_memory {
        webhook_poller =
            webhook_poller.with_checkpoint(data_dir.join("webhooks-stream-checkpoint.json"));
    }
    let delivery = webhooks::delivery::DeliveryFunction::new(
        Store::from_env().await,
        // The local run delivers to the developer's machine.
        domain::webhooks::UrlPolicy::AllowPrivate,
        domain::webhooks::delivery::RetrySchedule::from_env(),
    );
    let delivery_filter = StreamFilter::from_template(&template, "webhook-delivery")?;
    let mut webhook_delivery = tokio::spawn(run_webhook_delivery(
        webhook_poller,
        delivery,
        delivery_filter,
        give_up,
    ));
    let ahead = match std::env::var("GAMIFY_CLOCK_AHEAD_SECONDS") {
        Ok(s) => s
            .parse::<i64>()
            .map_err(|_| format!("GAMIFY_CLOCK_AHEAD_SECONDS={s}: not a whole number"))?,
        Err(_) => 0,
    };
    if ahead != 0 {
        println!(
            "Clock sweep running {ahead} s ahead of the real clock (GAMIFY_CLOCK_AHEAD_SECONDS)"
        );
    }
    tokio::spawn(run_clock_sweep(
        store.clone(),
        chrono::Duration::seconds(ahead),
    ));
    println!(
        "Stream processor polling the table's stream ({})",
        if resumed > 0 {
            "resuming after its checkpoint"
        } else {
            "from its oldest record"
        }
    );
    // The ready line comes last: tests stop reading (and close the pipe) once they see it.
    println!("console: http://127.0.0.1:{port}/console (sign in with the demo account's live apiKey and apiSecret)");
    println!("gamify-local ready on http://127.0.0.1:{port}");

    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; }, None => std::future::pending().await } } => {},
        }
    };
    tokio::pin!(shutdown);
    let dynamo_exited = async {
        match dynamo.as_mut() {
            Some(d) => d.exited().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(dynamo_exited);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = &mut dynamo_exited => {
                return Err(format!("DynamoDB Local ({endpoint}) exited; stopping. Run `make run` again: its data and the stream checkpoint are kept in {}", data_dir.display()));
            }
            stopped = &mut webhook_delivery => {
                let why = stopped.unwrap_or_else(|e| format!("webhook delivery failed: {e}"));
                return Err(format!("{why}; stopping. Start the store again and run `make run`."));
            }
            stopped = &mut stream_processor => {
                let why = stopped.unwrap_or_else(|e| format!("the stream processor failed: {e}"));
                return Err(format!("{why}; stopping so that nothing answers 500 forever. Start the store again and run `make run`."));
            }
            accepted = listener.accept() => {
                let Ok((stream, remote)) = accepted else { continue };
                let (functions, routes, cors) = (functions.clone(), routes.clone(), cors.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve_one(functions.clone(), routes.clone(), cors.clone(), remote, req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    println!("Stopping.");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    app::telemetry::init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gamify-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
