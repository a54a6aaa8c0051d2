//! The local stand-in for Lambda's DynamoDB event source mapping: reads DynamoDB Local's stream
//! (DescribeStream, GetShardIterator, GetRecords) and hands batches in the `aws_lambda_events`
//! shape to the real stream handler.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Region};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use shared::retry::Backoff;
use shared::store::{Store, LOCAL_REGION};

/// DynamoDB Local writes an empty map attribute into stream records as a bare `{}` instead of
/// `{"M":{}}`, which no SDK can read (a member saved with `"tags": {}` would stall the poller).
/// This HTTP connector types such values before the SDK deserializes the answer.
#[derive(Debug)]
struct TypeEmptyMaps(SharedHttpConnector);

impl HttpConnector for TypeEmptyMaps {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.0.clone();
        HttpConnectorFuture::new(async move {
            let mut response = inner.call(request).await?;
            let body = super::take_body(&mut response).await?;
            let repaired = match serde_json::from_slice::<Value>(&body) {
                Ok(mut answer) => {
                    for record in answer["Records"].as_array_mut().into_iter().flatten() {
                        for image in ["Keys", "NewImage", "OldImage"] {
                            if let Some(item) = record["dynamodb"][image].as_object_mut() {
                                item.values_mut().for_each(type_empty_maps);
                            }
                        }
                    }
                    serde_json::to_vec(&answer).unwrap_or(body)
                }
                Err(_) => body,
            };
            // The checksum and length were of the original body.
            response.headers_mut().remove("x-amz-crc32");
            response.headers_mut().remove("content-length");
            *response.body_mut() = SdkBody::from(repaired);
            Ok(response)
        })
    }
}

/// An attribute value, recursively: `{}` becomes `{"M":{}}`.
fn type_empty_maps(value: &mut Value) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    if object.is_empty() {
        *value = json!({"M": {}});
        return;
    }
    if let Some(map) = object.get_mut("M").and_then(Value::as_object_mut) {
        map.values_mut().for_each(type_empty_maps);
    }
    if let Some(list) = object.get_mut("L").and_then(Value::as_array_mut) {
        list.iter_mut().for_each(type_empty_maps);
    }
}

pub struct StreamPoller {
    streams: Client,
    stream_arn: String,
    /// Open shards and where to read next.
    iterators: HashMap<String, Option<String>>,
    /// Where each shard's processed records end; persisted at `checkpoint_path`.
    checkpoint: Checkpoint,
    checkpoint_path: Option<PathBuf>,
    /// Records per GetRecords call, per shard.
    batch_size: i32,
}

/// Per shard, the last sequence number whose batch is done. The stream's ARN changes when the
/// table is created again: a checkpoint of another stream is ignored.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub stream_arn: String,
    pub shards: BTreeMap<String, String>,
}

/// Records read by one poll, and which shard each came from.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub event: Event,
    shard_of: Vec<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.event.records.is_empty()
    }
}

/// The message Lambda's on-failure destination receives for a DynamoDB stream batch (an SQS
/// message on AWS; a line of `stream-failures.jsonl` locally): the shard and the range of
/// sequence numbers to read again, not the records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailureMessage {
    pub version: String,
    pub timestamp: String,
    #[serde(rename = "requestContext")]
    pub request_context: Value,
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch_info: BatchInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub batch_size: usize,
    pub stream_arn: String,
}

/// Appends failure messages to a JSON-lines file (the local on-failure destination).
pub fn append_failures(path: &std::path::Path, messages: &[FailureMessage]) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    for message in messages {
        let line = serde_json::to_string(message).map_err(|e| e.to_string())?;
        writeln!(file, "{line}").map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The failure messages of a JSON-lines file; a missing file has none.
pub fn read_failures(path: &std::path::Path) -> Result<Vec<FailureMessage>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("read {}: {e}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// Sequence numbers are decimal strings of any length: compare them as numbers.
fn sequence_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn sequence(record: &EventRecord) -> &str {
    record.change.sequence_number.as_deref().unwrap_or_default()
}

fn image(item: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>) -> Value {
    match item {
        Some(item) => {
            serde_json::to_value(serde_dynamo::Item::from(item.clone())).unwrap_or(Value::Null)
        }
        None => Value::Null,
    }
}

/// One stream record in the JSON Lambda receives.
fn event_record(record: &Record, stream_arn: &str) -> Result<EventRecord, String> {
    let change = record.dynamodb().ok_or("stream record without change")?;
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": change.approximate_creation_date_time().map(|t| t.secs()).unwrap_or_default(),
        "Keys": image(change.keys()),
        "SequenceNumber": change.sequence_number(),
        "SizeBytes": change.size_bytes().unwrap_or_default(),
        "StreamViewType": change.stream_view_type().map(|v| v.as_str()).unwrap_or("NEW_AND_OLD_IMAGES"),
    });
    if change.new_image().is_some() {
        dynamodb["NewImage"] = image(change.new_image());
    }
    if change.old_image().is_some() {
        dynamodb["OldImage"] = image(change.old_image());
    }
    let value = json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
        "eventVersion": record.event_version(),
        "eventSource": "aws:dynamodb",
        "awsRegion": LOCAL_REGION,
        "eventSourceARN": stream_arn,
        "dynamodb": dynamodb,
    });
    serde_json::from_value(value).map_err(|e| format!("stream record to Lambda event: {e}"))
}

/// How long a failing batch is retried while the store answers, before it is parked as a
/// failure message (Lambda's `MaximumRetryAttempts` + on-failure destination). While the store
/// does not answer, attempts do not count: an outage never parks anything.
pub const ATTEMPTS_BEFORE_PARKING: u32 = 8;

impl StreamPoller {
    /// Reads the stream of `store`'s table from its oldest record (TRIM_HORIZON): replays are safe.
    pub async fn new(store: &Store, endpoint: &str) -> Result<Self, String> {
        let http_client = super::wrapped_http_client(TypeEmptyMaps);
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(Store::local_credentials())
            .endpoint_url(endpoint)
            .build();
        Self::over(Client::from_conf(config), store).await
    }

    /// A reader of the deployed table's stream (what `gamify-admin redrive --aws` reads ranges of).
    pub async fn on_aws(store: &Store, config: &aws_config::SdkConfig) -> Result<Self, String> {
        Self::over(Client::new(config), store).await
    }

    async fn over(streams: Client, store: &Store) -> Result<Self, String> {
        let table = store
            .client()
            .describe_table()
            .table_name(store.table())
            .send()
            .await
            .map_err(|e| format!("describe {}: {e:?}", store.table()))?;
        let stream_arn = table
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or("the table has no stream")?;
        Ok(StreamPoller {
            streams,
            checkpoint: Checkpoint {
                stream_arn: stream_arn.clone(),
                shards: BTreeMap::new(),
            },
            stream_arn,
            iterators: HashMap::new(),
            checkpoint_path: None,
            batch_size: 1000,
        })
    }

    /// At most `records` per shard per poll: what Lambda's event source mapping hands over at once
    /// (`BatchSize` in template.yaml). Tests keep the default, 1000.
    pub fn with_batch_size(mut self, records: i32) -> Self {
        self.batch_size = records;
        self
    }

    /// Resumes after the checkpoint saved at `path` (when it is of this stream) and saves each
    /// new one there: a restart goes on where the last run stopped instead of replaying the
    /// whole stream.
    pub fn with_checkpoint(mut self, path: PathBuf) -> Self {
        if let Some(saved) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Checkpoint>(&b).ok())
            .filter(|c| c.stream_arn == self.stream_arn)
        {
            self.checkpoint = saved;
        }
        self.checkpoint_path = Some(path);
        self
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// The records written since the last poll, in one event (one batch), marked as done.
    pub async fn poll(&mut self) -> Result<Event, String> {
        let batch = self.next_batch().await?;
        self.commit(&batch)?;
        Ok(batch.event)
    }

    /// Where a shard's reading starts: after its checkpoint, or at its oldest record.
    async fn shard_iterator(&self, shard: &str) -> Result<Option<String>, String> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        let request = match self.checkpoint.shards.get(shard) {
            Some(done) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(done),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request
            .send()
            .await
            .map_err(|e| format!("shard iterator: {e:?}"))?
            .shard_iterator)
    }

    /// The records after the checkpoint, not yet marked as done: `commit` does that.
    pub async fn next_batch(&mut self) -> Result<Batch, String> {
        let result = self.read().await;
        if result.is_err() {
            // Iterators die with DynamoDB Local (and expire on AWS): start again from the checkpoint.
            self.iterators.clear();
        }
        result
    }

    async fn read(&mut self) -> Result<Batch, String> {
        let description = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| format!("describe stream: {e:?}"))?;
        for shard in description
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let Some(id) = shard.shard_id() else { continue };
            if self.iterators.contains_key(id) {
                continue;
            }
            let iterator = self.shard_iterator(id).await?;
            self.iterators.insert(id.to_string(), iterator);
        }
        let mut batch = Batch::default();
        let mut next = Vec::new();
        for (shard, iterator) in &self.iterators {
            let Some(current) = iterator.clone() else {
                continue;
            };
            let out = self
                .streams
                .get_records()
                .shard_iterator(current)
                .limit(self.batch_size)
                .send()
                .await
                .map_err(|e| format!("get records: {e:?}"))?;
            for record in out.records() {
                batch
                    .event
                    .records
                    .push(event_record(record, &self.stream_arn)?);
                batch.shard_of.push(shard.clone());
            }
            // A closed shard has no next iterator.
            next.push((shard.clone(), out.next_shard_iterator));
        }
        // Iterators move only once every shard was read: a failed read starts again.
        self.iterators.extend(next);
        Ok(batch)
    }

    /// Marks a batch as done: a restart resumes after it.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), String> {
        for (record, shard) in batch.event.records.iter().zip(&batch.shard_of) {
            let done = self.checkpoint.shards.entry(shard.clone()).or_default();
            if sequence_order(sequence(record), done).is_gt() {
                *done = sequence(record).to_string();
            }
        }
        let Some(path) = &self.checkpoint_path else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(&self.checkpoint).map_err(|e| e.to_string())?;
        // Written whole, then renamed: a crash leaves the old checkpoint or the new one.
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, json)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| format!("save the stream checkpoint {}: {e}", path.display()))
    }

    /// Whether the store answers at all (an outage, as opposed to records that fail).
    pub async fn store_answers(&self) -> bool {
        self.streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .limit(1)
            .send()
            .await
            .is_ok()
    }

    /// The failure messages (one per shard) for the records of `batch` that still fail.
    pub fn failure_messages(
        &self,
        batch: &Batch,
        failed: &[String],
        attempts: u32,
    ) -> Vec<FailureMessage> {
        let mut ranges: BTreeMap<&str, (String, String, usize)> = BTreeMap::new();
        for (record, shard) in batch.event.records.iter().zip(&batch.shard_of) {
            let seq = sequence(record);
            let range = ranges.entry(shard.as_str());
            let (start, end, count) = match range {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    if !failed.iter().any(|f| f == seq) {
                        continue;
                    }
                    v.insert((seq.to_string(), seq.to_string(), 0))
                }
            };
            if sequence_order(seq, start).is_lt() {
                *start = seq.to_string();
            }
            if sequence_order(seq, end).is_gt() {
                *end = seq.to_string();
            }
            *count += 1;
        }
        ranges
            .into_iter()
            .map(|(shard, (start, end, count))| FailureMessage {
                version: "1.0".into(),
                timestamp: shared::time::format(&shared::time::now()),
                request_context: json!({
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": attempts,
                }),
                batch_info: BatchInfo {
                    shard_id: shard.to_string(),
                    start_sequence_number: start,
                    end_sequence_number: end,
                    batch_size: count,
                    stream_arn: self.stream_arn.clone(),
                },
            })
            .collect()
    }

    /// The records a failure message names, read again from the stream (what a re-drive needs).
    pub async fn read_range(&self, info: &BatchInfo) -> Result<Event, String> {
        let mut iterator = self
            .streams
            .get_shard_iterator()
            .stream_arn(&info.stream_arn)
            .shard_id(&info.shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&info.start_sequence_number)
            .send()
            .await
            .map_err(|e| format!("shard iterator: {e:?}"))?
            .shard_iterator;
        let mut event = Event::default();
        while let Some(current) = iterator {
            let out = self
                .streams
                .get_records()
                .shard_iterator(current)
                .limit(self.batch_size)
                .send()
                .await
                .map_err(|e| format!("get records: {e:?}"))?;
            if out.records().is_empty() {
                break;
            }
            for record in out.records() {
                let record = event_record(record, &info.stream_arn)?;
                if sequence_order(sequence(&record), &info.end_sequence_number).is_gt() {
                    return Ok(event);
                }
                event.records.push(record);
            }
            iterator = out.next_shard_iterator;
        }
        Ok(event)
    }
}

/// What the local run does in place of Lambda's event source mapping: reads batches after the
/// checkpoint and hands each to `settle`. An outage only waits (backoff with jitter); after
/// `give_up` without an answer from the store it returns an error.
pub async fn run<P, F, K>(
    poller: &mut StreamPoller,
    process: P,
    mut park: K,
    give_up: std::time::Duration,
) -> Result<(), String>
where
    P: Fn(Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
    K: FnMut(Vec<FailureMessage>) -> Result<(), String>,
{
    let mut down_since: Option<std::time::Instant> = None;
    let mut failed_reads = 0;
    loop {
        let batch = match poller.next_batch().await {
            Ok(batch) => batch,
            Err(e) => {
                let since = *down_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= give_up {
                    return Err(format!(
                        "the store has not answered for {} s ({e})",
                        since.elapsed().as_secs()
                    ));
                }
                tracing::warn!(error = %e, "reading the stream failed; retrying");
                tokio::time::sleep(Backoff::BATCH.delay(failed_reads)).await;
                failed_reads += 1;
                continue;
            }
        };
        (down_since, failed_reads) = (None, 0);
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        settle(poller, batch, &process, &mut park, Backoff::BATCH, give_up).await?;
    }
}

/// Hands `batch` to `process` (which answers the sequence numbers that failed) and retries what
/// failed, with `backoff`, until it succeeds; what still fails after `ATTEMPTS_BEFORE_PARKING`
/// attempts made while the store answers is parked as failure messages (`park`, the on-failure
/// destination). Only then does the checkpoint move past the batch: nothing is dropped. A store
/// that has not answered for `give_up` is an error (the batch stays after the checkpoint).
pub async fn settle<P, F, K>(
    poller: &mut StreamPoller,
    batch: Batch,
    process: &P,
    park: &mut K,
    backoff: Backoff,
    give_up: std::time::Duration,
) -> Result<(), String>
where
    P: Fn(Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
    K: FnMut(Vec<FailureMessage>) -> Result<(), String>,
{
    let mut pending = batch.event.clone();
    let (mut attempt, mut counted) = (0, 0);
    let mut down_since: Option<std::time::Instant> = None;
    loop {
        let failed = process(pending.clone()).await;
        if failed.is_empty() {
            break;
        }
        pending
            .records
            .retain(|r| failed.iter().any(|f| f == sequence(r)));
        attempt += 1;
        if poller.store_answers().await {
            counted += 1;
            down_since = None;
        } else if down_since
            .get_or_insert_with(std::time::Instant::now)
            .elapsed()
            >= give_up
        {
            return Err(format!(
                "the store has not answered for {} s",
                give_up.as_secs()
            ));
        }
        if counted >= ATTEMPTS_BEFORE_PARKING {
            let messages = poller.failure_messages(&batch, &failed, attempt);
            tracing::error!(
                ?messages,
                "stream records failed every retry; parked for `gamify-admin redrive`"
            );
            park(messages)?;
            break;
        }
        tracing::warn!(
            failed = failed.len(),
            attempt,
            "stream records failed; retrying"
        );
        tokio::time::sleep(backoff.delay(attempt)).await;
    }
    poller.commit(&batch)
}

/// Re-drives the failure messages kept at `path`: reads each one's records from the stream again
/// and hands them to `process`; the messages whose records all succeed leave the file, the others
/// stay. Answers (re-driven, still failing).
pub async fn redrive<P, F>(
    poller: &StreamPoller,
    path: &std::path::Path,
    process: P,
) -> Result<(usize, usize), String>
where
    P: Fn(Event) -> F,
    F: std::future::Future<Output = Vec<String>>,
{
    let mut still_failing = Vec::new();
    let mut done = 0;
    for message in read_failures(path)? {
        let event = poller.read_range(&message.batch_info).await?;
        if process(event).await.is_empty() {
            done += 1;
        } else {
            still_failing.push(message);
        }
    }
    let temporary = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temporary);
    append_failures(&temporary, &still_failing)?;
    std::fs::rename(&temporary, path).map_err(|e| format!("replace {}: {e}", path.display()))?;
    Ok((done, still_failing.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The on-failure message Lambda sends for a DynamoDB stream batch, as AWS documents it.
    #[test]
    fn lambdas_failure_message_reads_as_a_failure_message() {
        let aws = r#"{
          "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
          "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
          "version": "1.0",
          "timestamp": "2019-11-14T00:38:06.021Z",
          "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362",
            "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
          }
        }"#;
        let message: FailureMessage = serde_json::from_str(aws).unwrap();
        assert_eq!(
            message.batch_info.start_sequence_number,
            "800000000003126276362"
        );
        assert_eq!(
            message.batch_info.shard_id,
            "shardId-00000001573689847184-864758bb"
        );
        assert_eq!(
            message.request_context["condition"],
            "RetryAttemptsExhausted"
        );
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(sequence_order("000000000000000000010", "9"), Greater);
        assert_eq!(sequence_order("49668", "49669"), Less);
        assert_eq!(sequence_order("", "1"), Less);
        assert_eq!(sequence_order("0042", "42"), Equal);
    }
}
