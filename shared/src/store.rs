//! The DynamoDB store behind a narrow interface. One table (see `template.yaml`):
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | API key | `KEY#{apiKey}` | `KEY` | |
//! | account | `ACCOUNT#{accountId}` | `ACCOUNT` | |
//! | member | `T#{acct}#{env}#EXT#{externalId}` | `MEMBER` | `T#{acct}#{env}#MEMBERS` / member id |
//! | member id → externalId | `T#{acct}#{env}#MEMBER#{id}` | `ID` | |
//! | activity log | `T#{acct}#{env}#LOG#{programId}#{uniqueIdentifier}` | `LOG` | GSI1 `…#LIST#{slug}` / id; GSI2 `…#MEMBER#{memberId}#{slug}` / id |
//! | counted logs of a period | `T#{acct}#{env}#MEMBER#{memberId}` | `AGG#{programId}#{periodDay}` | |
//! | progress record (streak run, challenge window; the last one carries the processor's `ver`) | member's partition | `PROGRESS#{programId}#{run or window key}` | GSI1, GSI2 |
//! | reward | member's partition | `REWARD#{milestoneId}#{run or window key}` | GSI1, GSI2 |
//! | marker: the member has progress in the program (makes first commits collide) | member's partition | `STATE#{programId}` | |
//! | program (streak, challenge, milestone) | `T#{acct}#{env}#PROGRAM#{id}` | `PROGRAM` | `T#{acct}#{env}#LIST#{slug}` / id |
//!
//! Members are keyed by tenant + `externalId` (SPEC §8), so uniqueness is the primary key itself and
//! the hot track-user path is one conditional write. The id item lets `{id}` lookups stay strongly
//! consistent. The member item also carries the processor's `activity` (analytics) and a revision
//! `rev` raised by every write, which the processor's read-modify-write is conditional on.
//!
//! Indexes project keys and the attributes list filters test (`template.yaml`), so updates that
//! leave those alone write no index entry; lists read their items by key after the index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use crate::cursor::Position;
use crate::error::ApiError;
use crate::keys::KeyRecord;
use crate::log::{ActivityLog, LogKind};
use crate::member::{Member, MemberInput, MemberStatus};
use crate::program::{Program, ProgramKind};
use crate::progress::CountedLog;
use crate::tenant::Tenant;
use crate::time::{self, Timestamp};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug)]
pub enum StoreError {
    /// A condition on a unique key failed: the record exists.
    Conflict,
    /// A concurrent writer changed the record first; the caller may re-read and retry.
    Contended,
    Throttled,
    /// A list's cursor names a position that query cannot have produced.
    BadCursor,
    Other(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ApiError::Conflict("The record already exists.".into()),
            StoreError::Contended => {
                ApiError::Conflict("The record was changed concurrently; retry.".into())
            }
            StoreError::Throttled => ApiError::Throttled,
            StoreError::BadCursor => crate::cursor::invalid_cursor(),
            StoreError::Other(cause) => ApiError::Internal(cause),
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> StoreError {
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::Conflict,
        Some("TransactionConflictException") => StoreError::Contended,
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded",
        ) => StoreError::Throttled,
        Some("TransactionCanceledException") => {
            // The message lists one reason per item: "[ConditionalCheckFailed, None]".
            let message = err.message().unwrap_or_default().to_string();
            if message.contains("ConditionalCheckFailed") {
                StoreError::Conflict
            } else if message.contains("TransactionConflict") {
                StoreError::Contended
            } else if message.contains("Throttling")
                || message.contains("ProvisionedThroughputExceeded")
            {
                StoreError::Throttled
            } else {
                StoreError::Other(format!("transaction cancelled: {message}"))
            }
        }
        _ => StoreError::Other(format!("{:?}", err.into_service_error_or_raw())),
    }
}

trait IntoServiceErrorOrRaw {
    fn into_service_error_or_raw(self) -> String;
}

impl<E: std::fmt::Debug, R: std::fmt::Debug> IntoServiceErrorOrRaw for SdkError<E, R> {
    fn into_service_error_or_raw(self) -> String {
        match self {
            SdkError::ServiceError(e) => format!("{:?}", e.err()),
            other => format!("{other:?}"),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Other(format!("encode item: {e}")))
}

/// Records are read straight from items: the key attributes (`PK`, `GSI1PK`, …) that the
/// `*Item` wrappers add on write are ignored on read.
/// The counted logs a period item holds (`L#{logId}` = `{activityAt}|{value}`).
fn period_logs(item: Item) -> Result<Vec<CountedLog>, StoreError> {
    let mut logs = Vec::new();
    for (name, value) in item {
        let (Some(id), AttributeValue::S(v)) = (name.strip_prefix("L#"), value) else {
            continue;
        };
        let parsed = v.split_once('|').and_then(|(at, amount)| {
            let at = chrono::DateTime::parse_from_rfc3339(at)
                .ok()?
                .with_timezone(&chrono::Utc);
            Some((at, amount.parse::<rust_decimal::Decimal>().ok()?))
        });
        let (activity_at, value) =
            parsed.ok_or_else(|| StoreError::Other(format!("bad period entry {id}")))?;
        logs.push(CountedLog {
            id: id.to_string(),
            activity_at,
            value,
        });
    }
    Ok(logs)
}

fn from_items<T: for<'de> Deserialize<'de>>(items: Vec<Item>) -> Result<Vec<T>, StoreError> {
    items.into_iter().map(from_item).collect()
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(format!("decode item: {e}")))
}

/// The attributes DynamoDB Local and AWS accept from every client of the local run.
pub const LOCAL_REGION: &str = "us-east-1";
pub const LOCAL_ACCESS_KEY: &str = "local";

#[derive(Serialize, Deserialize)]
struct MemberItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(flatten)]
    member: Member,
}

#[derive(Serialize, Deserialize)]
struct KeyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    key: KeyRecord,
}

/// An operator-created account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
    /// `paused`: every key of the account answers 401 until it is resumed.
    #[serde(default)]
    pub status: AccountStatus,
    /// Every key ever issued to the account (rotated and revoked ones too).
    #[serde(default)]
    pub api_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Live,
    Paused,
}

/// The GSI1 partition that lists accounts (operators only; never a tenant's).
const ACCOUNTS_LIST_PK: &str = "ACCOUNTS";

#[derive(Serialize, Deserialize)]
struct AccountItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(flatten)]
    account: Account,
}

fn account_item(account: &Account) -> Result<Item, StoreError> {
    to_item(&AccountItem {
        pk: format!("ACCOUNT#{}", account.id),
        sk: "ACCOUNT".into(),
        gsi1pk: ACCOUNTS_LIST_PK.into(),
        gsi1sk: account.id.clone(),
        account: account.clone(),
    })
}

fn key_item(key: &KeyRecord) -> Result<Item, StoreError> {
    to_item(&KeyItem {
        pk: format!("KEY#{}", key.api_key),
        sk: "KEY".into(),
        key: key.clone(),
    })
}

/// Filters of `GET /schema/account_user/record` other than `externalId` (a direct lookup).
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub status: Option<MemberStatus>,
    pub email: Option<String>,
}

fn member_pk(tenant: &Tenant, external_id: &str) -> String {
    format!("{}#EXT#{external_id}", tenant.key_prefix())
}

fn member_id_pk(tenant: &Tenant, id: &str) -> String {
    format!("{}#MEMBER#{id}", tenant.key_prefix())
}

fn program_pk(tenant: &Tenant, id: &str) -> String {
    format!("{}#PROGRAM#{id}", tenant.key_prefix())
}

/// GSI1 partition listing one kind of record of a tenant.
fn list_index_pk(tenant: &Tenant, slug: &str) -> String {
    format!("{}#LIST#{slug}", tenant.key_prefix())
}

const PROGRAM_SK: &str = "PROGRAM";
/// Logs set by one UpdateItem of a period item: `#lN = :lN, ` is at most 16 characters, and an
/// update expression may not exceed 4 KB.
const PERIOD_LOGS_PER_UPDATE: usize = 100;
const LOG_SK: &str = "LOG";

/// A log's key is its idempotency key: one conditional put makes copies count once.
fn log_pk(tenant: &Tenant, program_id: &str, unique_identifier: &str) -> String {
    format!(
        "{}#LOG#{program_id}#{unique_identifier}",
        tenant.key_prefix()
    )
}

/// Where a list of one kind reads: a member's records (GSI2) or the tenant's (GSI1).
fn list_partition(tenant: &Tenant, slug: &str, member_id: Option<&str>) -> (Index, String) {
    match member_id {
        Some(m) => (Index::Gsi2, member_activity_pk(tenant, m, slug)),
        None => (Index::Gsi1, list_index_pk(tenant, slug)),
    }
}

/// GSI2 partition of one member's records of one kind.
fn member_activity_pk(tenant: &Tenant, member_id: &str, slug: &str) -> String {
    format!("{}#MEMBER#{member_id}#{slug}", tenant.key_prefix())
}

#[derive(Serialize, Deserialize)]
struct LogItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    gsi2sk: String,
    #[serde(flatten)]
    log: ActivityLog,
}

/// The member side of a log sent with `ownedBy`.
pub enum MemberWrite<'a> {
    Create(Box<Member>),
    Update {
        external_id: &'a str,
        input: &'a MemberInput,
        now: Timestamp,
    },
}

/// The last progress record of a member in a program and the version it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressHead {
    pub sk: String,
    pub ver: u64,
}

/// A recomputation of a member's progress in a program, to commit (`Store::commit_progress`).
#[derive(Debug, Clone, Copy)]
pub struct ProgressCommit<'a> {
    /// The last record as read (`None`: the member had none in this program).
    pub head: Option<&'a ProgressHead>,
    /// Records to write, new or changed, each with the next `ver`.
    pub puts: &'a [serde_json::Value],
    /// Sort keys of records to remove (runs joined into another).
    pub deletes: &'a [String],
    /// Attributes set on the head when it is neither written nor removed (its `ver` at least).
    pub touch: &'a [(&'a str, AttributeValue)],
}

/// What `put_reward_once` did.
#[derive(Debug, Clone, PartialEq)]
pub enum RewardWrite {
    Created,
    /// Written before (by a replay or an interrupted attempt), at `created_at`, with `id`.
    Existed {
        created_at: Option<Timestamp>,
        id: Option<String>,
    },
}

/// What `insert_log` did.
#[derive(Debug)]
pub enum LogWrite {
    Created,
    /// A log with the same (program, `uniqueIdentifier`) was already stored.
    Exists(Box<ActivityLog>),
}

#[derive(Serialize, Deserialize)]
struct ProgramItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(flatten)]
    program: Program,
}

fn members_index_pk(tenant: &Tenant) -> String {
    format!("{}#MEMBERS", tenant.key_prefix())
}

/// The secondary indexes of the table (see `template.yaml`).
#[derive(Debug, Clone, Copy)]
enum Index {
    /// Tenant-wide lists by kind: `T#…#LIST#{slug}` / id (members: `T#…#MEMBERS`).
    Gsi1,
    /// A member's activity by kind: `T#…#MEMBER#{memberId}#{slug}` / id.
    Gsi2,
}

impl Index {
    fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => GSI1,
            Index::Gsi2 => GSI2,
        }
    }

    fn pk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1PK",
            Index::Gsi2 => "GSI2PK",
        }
    }

    fn sk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1SK",
            Index::Gsi2 => "GSI2SK",
        }
    }

    /// The start key of a page from a cursor's position. A position resumes only a query of
    /// this index partition, and holds nothing but the keys a page ends on: anything else (a
    /// cursor forged with a leaked secret, say) is `BadCursor`, never a request DynamoDB refuses.
    fn start_key(
        self,
        index_pk: &str,
        start: Option<Position>,
    ) -> Result<Option<Item>, StoreError> {
        let Some(position) = start else {
            return Ok(None);
        };
        let names = ["PK", "SK", self.pk_attribute(), self.sk_attribute()];
        let fits = position.len() == names.len()
            && names.iter().all(|n| {
                position
                    .get(*n)
                    .is_some_and(|v| !v.is_empty() && v.len() <= 1024)
            })
            && position.get(self.pk_attribute()).map(String::as_str) == Some(index_pk);
        if !fits {
            return Err(StoreError::BadCursor);
        }
        Ok(Some(position.into_iter().map(|(k, v)| (k, s(v))).collect()))
    }
}

/// A list filter on one attribute.
#[derive(Debug, Clone)]
pub enum Condition {
    Equals(&'static str, AttributeValue),
    AtLeast(&'static str, AttributeValue),
    Below(&'static str, AttributeValue),
}

impl Condition {
    pub fn equals(attr: &'static str, value: impl Into<String>) -> Self {
        Condition::Equals(attr, s(value))
    }

    pub fn at_least(attr: &'static str, value: impl Into<String>) -> Self {
        Condition::AtLeast(attr, s(value))
    }

    pub fn below(attr: &'static str, value: impl Into<String>) -> Self {
        Condition::Below(attr, s(value))
    }
}

const MEMBER_SK: &str = "MEMBER";
const MEMBER_ID_SK: &str = "ID";
pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    /// `externalId` by member id, as last seen by this instance: a warm function reads a member
    /// by id in one read instead of two. Only a hint: the member item read must carry the id.
    external_ids: Arc<Mutex<HashMap<String, String>>>,
}

/// Hints kept per instance before the cache starts over (bounded memory).
const EXTERNAL_ID_HINTS: usize = 50_000;

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            external_ids: Arc::default(),
        }
    }

    fn external_id_hint(&self, pk: &str) -> Option<String> {
        self.external_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pk)
            .cloned()
    }

    fn remember_external_id(&self, pk: String, external_id: &str) {
        let mut hints = self.external_ids.lock().unwrap_or_else(|e| e.into_inner());
        if hints.len() >= EXTERNAL_ID_HINTS {
            hints.clear();
        }
        hints.insert(pk, external_id.to_string());
    }

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

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by key. Strongly consistent reads cost twice the read units: only where a write
    /// must be seen at once (members).
    async fn get(
        &self,
        pk: String,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    // ---- accounts and keys ----

    pub async fn get_key(&self, api_key: &str) -> Result<Option<KeyRecord>, StoreError> {
        let item = self.get(format!("KEY#{api_key}"), "KEY", false).await?;
        item.map(from_item::<KeyRecord>).transpose()
    }

    /// Stores an account with its keys, all or nothing.
    pub async fn create_account(
        &self,
        account: &Account,
        keys: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let mut items = vec![account_item(account)?];
        for key in keys {
            items.push(key_item(key)?);
        }
        let mut tx = self.client.transact_write_items();
        for item in items {
            tx = tx.transact_items(self.put_new(item)?);
        }
        tx.send().await.map_err(classify)?;
        Ok(())
    }

    pub async fn get_account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let item = self
            .get(format!("ACCOUNT#{account_id}"), "ACCOUNT", false)
            .await?;
        item.map(from_item::<Account>).transpose()
    }

    /// Writes an account and keys as given (the operator's changes: status, rotation), all or
    /// nothing.
    pub async fn put_account_and_keys(
        &self,
        account: &Account,
        keys: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.client.transact_write_items();
        for item in std::iter::once(account_item(account)).chain(keys.iter().map(key_item)) {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item?))
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            tx = tx.transact_items(TransactWriteItem::builder().put(put).build());
        }
        tx.send().await.map_err(classify)?;
        Ok(())
    }

    /// One page of accounts, newest first.
    pub async fn list_accounts(
        &self,
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Account>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(Index::Gsi1, ACCOUNTS_LIST_PK.into(), &[], limit, start)
            .await?;
        Ok((from_items(items)?, next))
    }

    // ---- members ----

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn member_items(&self, tenant: &Tenant, member: &Member) -> Result<(Item, Item), StoreError> {
        let item = to_item(&MemberItem {
            pk: member_pk(tenant, &member.external_id),
            sk: MEMBER_SK.into(),
            gsi1pk: members_index_pk(tenant),
            gsi1sk: member.id.clone(),
            member: member.clone(),
        })?;
        let id_item = HashMap::from([
            ("PK".to_string(), s(member_id_pk(tenant, &member.id))),
            ("SK".to_string(), s(MEMBER_ID_SK)),
            ("externalId".to_string(), s(member.external_id.clone())),
        ]);
        Ok((item, id_item))
    }

    /// Creates a member; `Conflict` when its `externalId` is taken. Uniqueness is the table's
    /// primary key, checked inside the transaction, so concurrent creates cannot both win.
    pub async fn insert_member(&self, tenant: &Tenant, member: &Member) -> Result<(), StoreError> {
        let (item, id_item) = self.member_items(tenant, member)?;
        self.transact_with_retry(|| {
            Ok(vec![
                self.put_new(item.clone())?,
                self.put_new(id_item.clone())?,
            ])
        })
        .await
    }

    /// Runs a transaction, retrying only when DynamoDB reports a conflicting concurrent transaction
    /// (its outcome is then unknown to us, so the conditions must be evaluated again).
    async fn transact_with_retry(
        &self,
        build: impl Fn() -> Result<Vec<TransactWriteItem>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0u32;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(build()?))
                .send()
                .await
                .map_err(classify);
            match result {
                Err(StoreError::Contended) if attempt < 8 => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other.map(|_| ()),
            }
        }
    }

    pub async fn member_by_external_id(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<Member>, StoreError> {
        let item = self
            .get(member_pk(tenant, external_id), MEMBER_SK, true)
            .await?;
        let member = item.map(from_item::<Member>).transpose()?;
        if let Some(m) = &member {
            self.remember_external_id(member_id_pk(tenant, &m.id), external_id);
        }
        Ok(member)
    }

    pub async fn member_by_id(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Member>, StoreError> {
        let pk = member_id_pk(tenant, id);
        if let Some(external_id) = self.external_id_hint(&pk) {
            if let Some(m) = self.member_by_external_id(tenant, &external_id).await? {
                if m.id == id {
                    return Ok(Some(m));
                }
            }
        }
        // The externalId may change between the two reads; a second round sees the new one.
        for _ in 0..3 {
            let item = self
                .get(member_id_pk(tenant, id), MEMBER_ID_SK, true)
                .await?;
            let Some(AttributeValue::S(external_id)) =
                item.and_then(|mut i| i.remove("externalId"))
            else {
                return Ok(None);
            };
            match self.member_by_external_id(tenant, &external_id).await? {
                Some(m) if m.id == id => return Ok(Some(m)),
                _ => continue,
            }
        }
        Ok(None)
    }

    /// Updates the fields `input` changes on the member with this `externalId`, in one write.
    /// `None` when no such member exists. `seen` also moves `lastSeenAt` (track-user, activity).
    pub async fn update_member(
        &self,
        tenant: &Tenant,
        external_id: &str,
        input: &MemberInput,
        now: Timestamp,
        seen: bool,
    ) -> Result<Option<Member>, StoreError> {
        let update = member_update(input, now, seen)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, external_id)))
            .key("SK", s(MEMBER_SK))
            .update_expression(update.expression)
            .condition_expression("attribute_exists(PK)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(out) => out.attributes.map(from_item::<Member>).transpose(),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves a member to a new `externalId` (the key), keeping its id: deletes the old item only if
    /// unchanged since it was read, creates the new one only if the new `externalId` is free.
    pub async fn replace_member(
        &self,
        tenant: &Tenant,
        old: &Member,
        new: &Member,
    ) -> Result<(), StoreError> {
        let new = Member {
            rev: old.rev + 1,
            ..new.clone()
        };
        let (item, id_item) = self.member_items(tenant, &new)?;
        let delete_old = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, &old.external_id)))
            .key("SK", s(MEMBER_SK))
            .condition_expression(unchanged_since(old.rev))
            .expression_attribute_values(":rev", AttributeValue::N(old.rev.to_string()))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let put_id = Put::builder()
            .table_name(&self.table)
            .set_item(Some(id_item))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete_old).build())
            .transact_items(self.put_new(item)?)
            .transact_items(TransactWriteItem::builder().put(put_id).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                // Which condition failed decides the answer: the old item (changed meanwhile) or the new key (taken).
                let message = err.message().unwrap_or_default().to_string();
                match message
                    .split_once('[')
                    .map(|(_, r)| r.split(',').map(str::trim).collect::<Vec<_>>())
                {
                    Some(reasons)
                        if reasons
                            .first()
                            .is_some_and(|r| r.starts_with("ConditionalCheckFailed")) =>
                    {
                        Err(StoreError::Contended)
                    }
                    _ => Err(classify(err)),
                }
            }
        }
    }

    /// Writes the processor's view of a member's activity (`activity`, `lastSeenAt`) if the member
    /// item is still the one read (same id, same revision). `false` when it changed meanwhile:
    /// read it again and retry.
    pub async fn update_member_activity(
        &self,
        tenant: &Tenant,
        read: &Member,
        activity: &crate::analytics::ActivityStats,
        last_seen_at: Option<&Timestamp>,
    ) -> Result<bool, StoreError> {
        let activity = serde_dynamo::to_attribute_value(activity)
            .map_err(|e| StoreError::Other(format!("encode activity: {e}")))?;
        let last_seen = last_seen_at
            .map(|t| s(time::format(t)))
            .unwrap_or(AttributeValue::Null(true));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, &read.external_id)))
            .key("SK", s(MEMBER_SK))
            .update_expression("SET activity = :activity, lastSeenAt = :seen, rev = :next")
            .condition_expression(format!("id = :id AND ({})", unchanged_since(read.rev)))
            .expression_attribute_values(":activity", activity)
            .expression_attribute_values(":seen", last_seen)
            .expression_attribute_values(":id", s(read.id.clone()))
            .expression_attribute_values(":rev", AttributeValue::N(read.rev.to_string()))
            .expression_attribute_values(":next", AttributeValue::N((read.rev + 1).to_string()))
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes a member and its id item. `false` when it was already gone.
    pub async fn delete_member(
        &self,
        tenant: &Tenant,
        member: &Member,
    ) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(member_pk(tenant, &member.external_id)))
            .key("SK", s(MEMBER_SK))
            .condition_expression("id = :id")
            .expression_attribute_values(":id", s(member.id.clone()))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let delete_id = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(member_id_pk(tenant, &member.id)))
            .key("SK", s(MEMBER_ID_SK))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let result = self
            .transact_with_retry(|| {
                Ok(vec![
                    TransactWriteItem::builder().delete(delete.clone()).build(),
                    TransactWriteItem::builder()
                        .delete(delete_id.clone())
                        .build(),
                ])
            })
            .await;
        match result {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes everything a deleted member left behind (SPEC §3): its partition (period items,
    /// progress, rewards, processor state) and its logs (found on GSI2), plus `orphans`, logs known
    /// to be its own (GSI2 may not show a just-written log yet). Idempotent; repeats until a pass
    /// finds nothing. Refuses (`Contended`) while the member's id is still taken.
    pub async fn delete_member_activity(
        &self,
        tenant: &Tenant,
        member_id: &str,
        orphans: &[&ActivityLog],
    ) -> Result<usize, StoreError> {
        let pk = member_id_pk(tenant, member_id);
        if self.get(pk.clone(), MEMBER_ID_SK, true).await?.is_some() {
            return Err(StoreError::Contended);
        }
        let mut keys: Vec<(String, String)> = orphans
            .iter()
            .map(|log| {
                (
                    log_pk(tenant, &log.program_id, &log.unique_identifier),
                    LOG_SK.to_string(),
                )
            })
            .collect();
        let mut deleted = 0;
        loop {
            let mut items = self.query_range(pk.clone(), "!", "~").await?;
            for kind in [LogKind::Streak, LogKind::Challenge] {
                let mut start = None;
                loop {
                    let (page, next) = self
                        .query_index_entries(
                            Index::Gsi2,
                            member_activity_pk(tenant, member_id, kind.slug()),
                            &[],
                            1000,
                            start,
                        )
                        .await?;
                    items.extend(page);
                    match next {
                        Some(n) => start = Some(n),
                        None => break,
                    }
                }
            }
            keys.extend(items.into_iter().filter_map(|mut item| {
                match (item.remove("PK"), item.remove("SK")) {
                    (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk, sk)),
                    _ => None,
                }
            }));
            if keys.is_empty() {
                return Ok(deleted);
            }
            deleted += keys.len();
            self.delete_keys(std::mem::take(&mut keys)).await?;
        }
    }

    /// Deletes items by key, 25 per request, retrying what DynamoDB leaves unprocessed.
    async fn delete_keys(&self, mut keys: Vec<(String, String)>) -> Result<(), StoreError> {
        keys.sort();
        keys.dedup();
        for chunk in keys.chunks(25) {
            let requests = chunk
                .iter()
                .map(|(pk, sk)| {
                    DeleteRequest::builder()
                        .key("PK", s(pk.clone()))
                        .key("SK", s(sk.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Other(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            until_processed(requests, |requests| async move {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }

    /// One page of a tenant's members, newest first, at most `limit` long.
    pub async fn list_members(
        &self,
        tenant: &Tenant,
        filter: &MemberFilter,
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Member>, Option<Position>), StoreError> {
        let mut conditions = Vec::new();
        if let Some(status) = filter.status {
            conditions.push(Condition::equals("status", status.as_str()));
        }
        if let Some(email) = &filter.email {
            conditions.push(Condition::equals("email", email.clone()));
        }
        let (items, next) = self
            .query_index(
                Index::Gsi1,
                members_index_pk(tenant),
                &conditions,
                limit,
                start,
            )
            .await?;
        let members = from_items(items)?;
        Ok((members, next))
    }

    /// One page of an index partition, newest first (index sort keys are UUIDv7 ids), keeping
    /// the items that satisfy every condition, at most `limit` long: the items themselves, read
    /// by key after the index (which holds only keys and the attributes filters test).
    async fn query_index(
        &self,
        index: Index,
        index_pk: String,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Item>, Option<Position>), StoreError> {
        let (entries, next) = self
            .query_index_entries(index, index_pk, conditions, limit, start)
            .await?;
        Ok((self.items_of(entries).await?, next))
    }

    /// The items that index entries point to, in the entries' order, eventually consistent like
    /// the index itself (an item deleted meanwhile is left out). 100 keys per BatchGetItem.
    async fn items_of(&self, entries: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let key_of = |item: &Item| -> Option<(String, String)> {
            match (item.get("PK"), item.get("SK")) {
                (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                    Some((pk.clone(), sk.clone()))
                }
                _ => None,
            }
        };
        let order: Vec<(String, String)> = entries.iter().filter_map(key_of).collect();
        let found: Mutex<HashMap<(String, String), Item>> = Mutex::default();
        for chunk in order.chunks(100) {
            let keys = chunk
                .iter()
                .map(|(pk, sk)| HashMap::from([("PK".into(), s(pk)), ("SK".into(), s(sk))]))
                .collect::<Vec<Item>>();
            let found = &found;
            until_processed(keys, |keys| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
                let items = out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                for item in items {
                    if let Some(key) = key_of(&item) {
                        found.insert(key, item);
                    }
                }
                Ok(out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default())
            })
            .await?;
        }
        let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(order.iter().filter_map(|key| found.remove(key)).collect())
    }

    /// One page of index entries (keys and filtered attributes), newest first.
    async fn query_index_entries(
        &self,
        index: Index,
        index_pk: String,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Item>, Option<Position>), StoreError> {
        let mut position = index.start_key(&index_pk, start)?;
        let mut names = HashMap::from([("#pk".to_string(), index.pk_attribute().to_string())]);
        let mut values = HashMap::from([(":pk".to_string(), s(index_pk))]);
        let mut filters = Vec::new();
        for (i, condition) in conditions.iter().enumerate() {
            let (attr, op, value) = match condition {
                Condition::Equals(a, v) => (a, "=", v),
                Condition::AtLeast(a, v) => (a, ">=", v),
                Condition::Below(a, v) => (a, "<", v),
            };
            names.insert(format!("#f{i}"), attr.to_string());
            values.insert(format!(":f{i}"), value.clone());
            filters.push(format!("#f{i} {op} :f{i}"));
        }
        let filter_expression = (!filters.is_empty()).then(|| filters.join(" AND "));

        let mut items = Vec::new();
        // A filter can make pages sparse; a bounded number of rounds keeps latency predictable,
        // and the cursor continues where the last round stopped.
        for _ in 0..10 {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name())
                .key_condition_expression("#pk = :pk")
                .set_filter_expression(filter_expression.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit((limit - items.len()) as i32)
                .set_exclusive_start_key(position.take())
                .send()
                .await
                .map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            position = out.last_evaluated_key;
            if position.is_none() || items.len() >= limit {
                break;
            }
        }
        let next = position.map(|key| {
            key.into_iter()
                .filter_map(|(k, v)| match v {
                    AttributeValue::S(v) => Some((k, v)),
                    _ => None,
                })
                .collect()
        });
        Ok((items, next))
    }

    // ---- activity logs ----

    fn log_item(&self, tenant: &Tenant, log: &ActivityLog) -> Result<Item, StoreError> {
        to_item(&LogItem {
            pk: log_pk(tenant, &log.program_id, &log.unique_identifier),
            sk: LOG_SK.into(),
            gsi1pk: list_index_pk(tenant, log.kind.slug()),
            gsi1sk: log.id.clone(),
            gsi2pk: member_activity_pk(tenant, &log.owned_by_id, log.kind.slug()),
            gsi2sk: log.id.clone(),
            log: log.clone(),
        })
    }

    /// Writes a log once per (program, `uniqueIdentifier`), with the inline member write if any, all
    /// or nothing. A log that already exists is returned instead, unchanged (the caller compares).
    pub async fn insert_log(
        &self,
        tenant: &Tenant,
        log: &ActivityLog,
        member: Option<&MemberWrite<'_>>,
    ) -> Result<LogWrite, StoreError> {
        let put_log = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.log_item(tenant, log)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let result = match member {
            None => self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(put_log.item))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
            Some(write) => {
                let mut items = match write {
                    MemberWrite::Create(m) => {
                        let (item, id_item) = self.member_items(tenant, m)?;
                        vec![self.put_new(item)?, self.put_new(id_item)?]
                    }
                    MemberWrite::Update {
                        external_id,
                        input,
                        now,
                    } => {
                        let update = member_update(input, *now, true)?;
                        let op = Update::builder()
                            .table_name(&self.table)
                            .key("PK", s(member_pk(tenant, external_id)))
                            .key("SK", s(MEMBER_SK))
                            .update_expression(update.expression)
                            .condition_expression("attribute_exists(PK)")
                            .set_expression_attribute_names(Some(update.names))
                            .set_expression_attribute_values(Some(update.values))
                            .build()
                            .map_err(|e| StoreError::Other(e.to_string()))?;
                        vec![TransactWriteItem::builder().update(op).build()]
                    }
                };
                let log_index = items.len();
                items.push(TransactWriteItem::builder().put(put_log).build());
                match self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(err) => {
                        // One reason per item, in order: did the log's condition fail, or the member's?
                        let message = err.message().unwrap_or_default().to_string();
                        let reasons: Vec<String> = message
                            .split_once('[')
                            .map(|(_, r)| {
                                r.trim_end_matches(']')
                                    .split(',')
                                    .map(|x| x.trim().to_string())
                                    .collect()
                            })
                            .unwrap_or_default();
                        match reasons.get(log_index) {
                            Some(r) if r.starts_with("ConditionalCheckFailed") => {
                                Err(StoreError::Conflict)
                            }
                            _ if reasons
                                .iter()
                                .any(|r| r.starts_with("ConditionalCheckFailed")) =>
                            {
                                Err(StoreError::Contended)
                            }
                            _ => Err(classify(err)),
                        }
                    }
                }
            }
        };
        match result {
            Ok(()) => Ok(LogWrite::Created),
            Err(StoreError::Conflict) => {
                let existing = self
                    .get(
                        log_pk(tenant, &log.program_id, &log.unique_identifier),
                        LOG_SK,
                        true,
                    )
                    .await?
                    .ok_or(StoreError::Contended)?;
                Ok(LogWrite::Exists(Box::new(from_item::<ActivityLog>(
                    existing,
                )?)))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn get_log(
        &self,
        tenant: &Tenant,
        kind: LogKind,
        id: &str,
    ) -> Result<Option<ActivityLog>, StoreError> {
        let item = self
            .get_listed(list_index_pk(tenant, kind.slug()), id)
            .await?;
        item.map(from_item::<ActivityLog>).transpose()
    }

    /// A listed record by id: GSI1's sort key is the id, so this is one key lookup on the index.
    async fn get_listed(&self, list_pk: String, id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK = :id")
            .expression_attribute_values(":pk", s(list_pk))
            .expression_attribute_values(":id", s(id))
            .limit(1)
            .send()
            .await
            .map_err(classify)?;
        let Some(entry) = out.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        Ok(self.items_of(vec![entry]).await?.into_iter().next())
    }
    // ---- progress (written by the stream processor) ----

    /// Records counted logs in their period's item, one attribute per log (`L#{logId}`), so a log
    /// delivered twice sets the same attribute twice: idempotent without a condition. Large
    /// batches are written in chunks (an update expression is limited to 4 KB). Returns every
    /// log the period's item holds after the write (no second read).
    pub async fn record_period_logs(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        period_day: &str,
        logs: &[CountedLog],
    ) -> Result<Vec<CountedLog>, StoreError> {
        let mut item = Item::new();
        for chunk in logs.chunks(PERIOD_LOGS_PER_UPDATE) {
            item = self
                .record_period_chunk(tenant, member_id, program_id, period_day, chunk)
                .await?;
        }
        period_logs(item)
    }

    async fn record_period_chunk(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        period_day: &str,
        logs: &[CountedLog],
    ) -> Result<Item, StoreError> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (i, log) in logs.iter().enumerate() {
            names.insert(format!("#l{i}"), format!("L#{}", log.id));
            values.insert(
                format!(":l{i}"),
                s(format!("{}|{}", time::format(&log.activity_at), log.value)),
            );
            sets.push(format!("#l{i} = :l{i}"));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(member_id_pk(tenant, member_id)))
            .key("SK", s(format!("AGG#{program_id}#{period_day}")))
            .update_expression(format!("SET {}", sets.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// Counted logs of a member in a program whose period starts on a day in `[from_day, to_day]`
    /// (`YYYY-MM-DD`; `None` for no upper bound), from the period items.
    pub async fn counted_logs(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        from_day: &str,
        to_day: Option<&str>,
    ) -> Result<Vec<CountedLog>, StoreError> {
        let upper = to_day
            .map(|d| format!("AGG#{program_id}#{d}"))
            .unwrap_or_else(|| format!("AGG#{program_id}#~"));
        let items = self
            .query_range(
                member_id_pk(tenant, member_id),
                &format!("AGG#{program_id}#{from_day}"),
                &upper,
            )
            .await?;
        let mut logs = Vec::new();
        for item in items {
            logs.extend(period_logs(item)?);
        }
        Ok(logs)
    }

    /// Items of a partition with sort keys in `[from, to]`, strongly consistent, in key order.
    async fn query_range(&self, pk: String, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.query_page(&pk, from, to, true, None, start).await?;
            items.extend(page);
            start = next;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// One page of `query_range`, forward or backward, at most `limit` items.
    async fn query_page(
        &self,
        pk: &str,
        from: &str,
        to: &str,
        forward: bool,
        limit: Option<i32>,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .consistent_read(true)
            .scan_index_forward(forward)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    async fn query_partition(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.query_range(pk, prefix, &format!("{prefix}~")).await
    }

    /// A member's progress records in a program from the one at or before `from_key` (run or
    /// window keys sort in time order) to the last one, the head, in key order. Read backwards
    /// from the head: usually a single item.
    pub async fn progress_tail(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        from_key: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let from_sk = format!("PROGRESS#{program_id}#{from_key}");
        let pk = member_id_pk(tenant, member_id);
        let (first, last) = (
            format!("PROGRESS#{program_id}#"),
            format!("PROGRESS#{program_id}#~"),
        );
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self
                .query_page(&pk, &first, &last, false, Some(4), start)
                .await?;
            let reached = page.iter().any(
                |item| matches!(item.get("SK"), Some(AttributeValue::S(sk)) if *sk <= from_sk),
            );
            items.extend(page);
            start = next;
            if reached || start.is_none() {
                break;
            }
        }
        items.reverse();
        // A page may reach past the record at or before `from_key`: start at that record.
        let before = items
            .iter()
            .rposition(
                |item| matches!(item.get("SK"), Some(AttributeValue::S(sk)) if *sk <= from_sk),
            )
            .unwrap_or(0);
        items.drain(..before);
        from_items(items)
    }

    /// Commits a recomputation of a member's progress in a program: writes `puts` (their `ver` is
    /// the next version) and removes `deletes`, if nobody else committed since `head` was read.
    /// Every commit changes the head's `ver` (or removes it), so two commits that read the same
    /// head cannot both succeed (`Contended`: recompute and retry). When the head is the only
    /// record written — a log that extends the current run or window — this is one conditional
    /// write; otherwise one transaction. Without a head (the first records) a marker item makes
    /// concurrent first commits collide.
    pub async fn commit_progress(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        commit: &ProgressCommit<'_>,
    ) -> Result<(), StoreError> {
        let ProgressCommit {
            head,
            puts,
            deletes,
            touch,
        } = *commit;
        let pk = member_id_pk(tenant, member_id);
        let is_head = |sk: &str| head.is_some_and(|h| h.sk == sk);
        let version = |h: &ProgressHead| AttributeValue::N(h.ver.to_string());
        let mut items = Vec::new();
        let mut head_written = false;
        for record in puts {
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(record)?));
            if let Some(h) = head.filter(|_| is_head(record["SK"].as_str().unwrap_or_default())) {
                head_written = true;
                put = put
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", version(h));
            }
            let put = put.build().map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for sk in deletes {
            let mut delete = Delete::builder()
                .table_name(&self.table)
                .key("PK", s(pk.clone()))
                .key("SK", s(sk.clone()));
            if let Some(h) = head.filter(|_| is_head(sk)) {
                head_written = true;
                delete = delete
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", version(h));
            }
            let delete = delete
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match head {
            Some(h) if !head_written => {
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("PK", s(pk.clone()))
                    .key("SK", s(h.sk.clone()))
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", version(h));
                let mut sets = Vec::new();
                for (i, (name, value)) in touch.iter().enumerate() {
                    update = update
                        .expression_attribute_names(format!("#t{i}"), *name)
                        .expression_attribute_values(format!(":t{i}"), value.clone());
                    sets.push(format!("#t{i} = :t{i}"));
                }
                let update = update
                    .update_expression(format!("SET {}", sets.join(", ")))
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            Some(_) => {}
            None => {
                let marker = Put::builder()
                    .table_name(&self.table)
                    .item("PK", s(pk.clone()))
                    .item("SK", s(format!("STATE#{program_id}")))
                    .condition_expression("attribute_not_exists(PK)")
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                items.push(TransactWriteItem::builder().put(marker).build());
            }
        }
        // Alone, the head's write is a put (it changed) or an update (its version moves on).
        let result = if let [single @ TransactWriteItem { delete: None, .. }] = items.as_slice() {
            self.write_one(single.clone()).await
        } else {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        };
        match result {
            Err(StoreError::Conflict) => Err(StoreError::Contended),
            other => other,
        }
    }

    /// A put or an update built for a transaction, sent on its own (half the price).
    async fn write_one(&self, item: TransactWriteItem) -> Result<(), StoreError> {
        let sent = if let Some(put) = item.put {
            self.client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        } else if let Some(update) = item.update {
            self.client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        } else {
            Err(StoreError::Other(
                "write_one takes a put or an update".into(),
            ))
        };
        sent
    }

    /// One page of the records of one kind (logs, progress records, rewards), newest first: one
    /// member's (GSI2) when `member_id` is given, else the tenant's (GSI1).
    pub async fn list_kind<T: for<'de> Deserialize<'de>>(
        &self,
        tenant: &Tenant,
        slug: &str,
        member_id: Option<&str>,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<T>, Option<Position>), StoreError> {
        let (index, pk) = list_partition(tenant, slug, member_id);
        let (items, next) = self
            .query_index(index, pk, conditions, limit, start)
            .await?;
        Ok((from_items(items)?, next))
    }
    /// Every stored log of one member, both kinds, as stored (what a reconciliation replays).
    pub async fn member_log_items(
        &self,
        tenant: &Tenant,
        member_id: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut all = Vec::new();
        for kind in [LogKind::Streak, LogKind::Challenge] {
            let mut start = None;
            loop {
                let (index, pk) = list_partition(tenant, kind.slug(), Some(member_id));
                let (items, next) = self.query_index(index, pk, &[], 1000, start).await?;
                all.extend(items);
                match next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        Ok(all)
    }

    pub async fn get_record(
        &self,
        tenant: &Tenant,
        slug: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let item = self.get_listed(list_index_pk(tenant, slug), id).await?;
        item.map(from_item::<serde_json::Value>).transpose()
    }

    /// Sets (or, with `None`, removes) attributes of a stored record found by `get_record`.
    pub async fn update_record(
        &self,
        record: &serde_json::Value,
        changes: &[(&str, Option<serde_json::Value>)],
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let (Some(pk), Some(sk)) = (record["PK"].as_str(), record["SK"].as_str()) else {
            return Ok(None);
        };
        let mut names = HashMap::from([("#updatedAt".to_string(), "updatedAt".to_string())]);
        let mut values = HashMap::from([(":now".to_string(), s(time::format(&now)))]);
        let mut sets = vec!["#updatedAt = :now".to_string()];
        for (i, (name, value)) in changes.iter().enumerate() {
            names.insert(format!("#f{i}"), name.to_string());
            let av = match value {
                Some(v) => serde_dynamo::to_attribute_value(v)
                    .map_err(|e| StoreError::Other(e.to_string()))?,
                None => AttributeValue::Null(true),
            };
            values.insert(format!(":v{i}"), av);
            sets.push(format!("#f{i} = :v{i}"));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(PK)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(out) => out
                .attributes
                .map(from_item::<serde_json::Value>)
                .transpose(),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A member's records whose sort key starts with `prefix` (`PROGRESS#`, `REWARD#`, …).
    pub async fn member_records(
        &self,
        tenant: &Tenant,
        member_id: &str,
        prefix: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        from_items(
            self.query_partition(member_id_pk(tenant, member_id), prefix)
                .await?,
        )
    }

    /// Writes a reward unless one with its key exists: one per (member, milestone, run or window).
    /// When it exists, says when it was created (read from the failed condition, no extra read).
    pub async fn put_reward_once(
        &self,
        reward: &serde_json::Value,
    ) -> Result<RewardWrite, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(reward)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(RewardWrite::Created),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match e.err() {
                    PutItemError::ConditionalCheckFailedException(x) => x.item(),
                    _ => None,
                };
                let text = |name: &str| {
                    old.and_then(|i| i.get(name))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                };
                let created_at = text("createdAt")
                    .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
                    .map(|t| t.with_timezone(&chrono::Utc));
                Ok(RewardWrite::Existed {
                    created_at,
                    id: text("id"),
                })
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Live milestones linked to a program.
    pub async fn live_milestones(
        &self,
        tenant: &Tenant,
        program_id: &str,
    ) -> Result<Vec<Program>, StoreError> {
        let conditions = [
            Condition::equals("linkedSchemaRecordId", program_id),
            Condition::equals("status", "live"),
        ];
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self
                .list_programs(tenant, ProgramKind::Milestone, &conditions, 1000, start)
                .await?;
            out.extend(page);
            match next {
                Some(n) => start = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Key attributes of a progress or reward record: in the member's partition, listed on GSI1 by
    /// kind and on GSI2 by member and kind.
    pub fn record_keys(
        tenant: &Tenant,
        member_id: &str,
        sk: &str,
        slug: &str,
        id: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut keys = serde_json::Map::new();
        keys.insert("PK".into(), member_id_pk(tenant, member_id).into());
        keys.insert("SK".into(), sk.into());
        keys.insert("GSI1PK".into(), list_index_pk(tenant, slug).into());
        keys.insert("GSI1SK".into(), id.into());
        keys.insert(
            "GSI2PK".into(),
            member_activity_pk(tenant, member_id, slug).into(),
        );
        keys.insert("GSI2SK".into(), id.into());
        keys
    }

    // ---- programs ----

    fn program_item(&self, tenant: &Tenant, program: &Program) -> Result<Item, StoreError> {
        to_item(&ProgramItem {
            pk: program_pk(tenant, &program.id),
            sk: PROGRAM_SK.into(),
            gsi1pk: list_index_pk(tenant, program.kind.slug()),
            gsi1sk: program.id.clone(),
            program: program.clone(),
        })
    }

    pub async fn insert_program(
        &self,
        tenant: &Tenant,
        program: &Program,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.program_item(tenant, program)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Replaces a program read at `seen_updated_at`; `Contended` if it changed since.
    pub async fn replace_program(
        &self,
        tenant: &Tenant,
        program: &Program,
        seen_updated_at: &Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.program_item(tenant, program)?))
            .condition_expression("updatedAt = :seen")
            .expression_attribute_values(":seen", s(time::format(seen_updated_at)))
            .send()
            .await
            .map_err(classify);
        match result {
            Err(StoreError::Conflict) => Err(StoreError::Contended),
            other => other.map(|_| ()),
        }
    }

    pub async fn get_program(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Program>, StoreError> {
        let item = self.get(program_pk(tenant, id), PROGRAM_SK, true).await?;
        item.map(from_item::<Program>).transpose()
    }

    /// `false` when there was nothing to delete.
    pub async fn delete_program(&self, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(program_pk(tenant, id)))
            .key("SK", s(PROGRAM_SK))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One page of a tenant's programs of one kind, newest first.
    pub async fn list_programs(
        &self,
        tenant: &Tenant,
        kind: ProgramKind,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Program>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(
                Index::Gsi1,
                list_index_pk(tenant, kind.slug()),
                conditions,
                limit,
                start,
            )
            .await?;
        let programs = from_items(items)?;
        Ok((programs, next))
    }
}

/// Condition that a member item still has the revision read (`:rev`); items written before
/// revisions existed have none.
fn unchanged_since(rev: u64) -> &'static str {
    if rev == 0 {
        "attribute_not_exists(rev) OR rev = :rev"
    } else {
        "rev = :rev"
    }
}

/// An UpdateItem expression: SET what `input` sets, REMOVE what it clears, and the timestamps.
struct MemberUpdate {
    expression: String,
    names: HashMap<String, String>,
    values: Item,
}

fn member_update(
    input: &MemberInput,
    now: Timestamp,
    seen: bool,
) -> Result<MemberUpdate, StoreError> {
    let mut names = HashMap::from([("#updatedAt".to_string(), "updatedAt".to_string())]);
    let mut values = HashMap::from([(":now".to_string(), s(time::format(&now)))]);
    let mut sets = vec![
        "#updatedAt = :now".to_string(),
        "#rev = if_not_exists(#rev, :zero) + :one".to_string(),
    ];
    names.insert("#rev".to_string(), "rev".to_string());
    values.insert(":zero".to_string(), AttributeValue::N("0".into()));
    values.insert(":one".to_string(), AttributeValue::N("1".into()));
    let mut removes = Vec::new();
    if seen {
        names.insert("#lastSeenAt".to_string(), "lastSeenAt".to_string());
        sets.push("#lastSeenAt = :now".to_string());
    }
    for (i, (name, value)) in input.changes().into_iter().enumerate() {
        let placeholder = format!("#f{i}");
        names.insert(placeholder.clone(), name.to_string());
        match value {
            Some(v) => {
                let av = serde_dynamo::to_attribute_value(v)
                    .map_err(|e| StoreError::Other(format!("encode {name}: {e}")))?;
                values.insert(format!(":v{i}"), av);
                sets.push(format!("{placeholder} = :v{i}"));
            }
            None => removes.push(placeholder),
        }
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    Ok(MemberUpdate {
        expression,
        names,
        values,
    })
}

/// The roots of Amazon Trust Services (and the Starfield root they are cross-signed by): every
/// DynamoDB endpoint's certificate chains to one of them.
const AMAZON_ROOTS: &str = include_str!("amazon-roots.pem");

/// The SDK's HTTPS client trusting Amazon's roots only. The default client reads and parses the
/// system's whole trust store when it is built, which was most of a cold start's init (BENCHMARKS.md).
fn amazon_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
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

/// Sends `pending` (a batch operation's requests) until DynamoDB has processed all of it: `send`
/// answers what was left unprocessed, sent again after a backoff; `Throttled` after 10 rounds.
async fn until_processed<T, F, Fut>(mut pending: Vec<T>, send: F) -> Result<(), StoreError>
where
    F: Fn(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut attempt = 0;
    while !pending.is_empty() {
        if attempt > 10 {
            return Err(StoreError::Throttled);
        }
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        pending = send(pending).await?;
        attempt += 1;
    }
    Ok(())
}

pub fn backoff(attempt: u32) -> Duration {
    crate::retry::Backoff::WRITE.delay(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_amazons() {
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
