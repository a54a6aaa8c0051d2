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

use store::{Store, LOCAL_REGION};

mod failures;
mod filters;
mod runner;

pub use failures::{append_failures, read_failures, BatchInfo, FailureMessage};
pub use filters::StreamFilter;
pub use runner::{redrive, run, settle, ATTEMPTS_BEFORE_PARKING};

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
            let (records, after) = self.get_records(current, &self.stream_arn).await?;
            batch.shard_of.extend(records.iter().map(|_| shard.clone()));
            batch.event.records.extend(records);
            // A closed shard has no next iterator.
            next.push((shard.clone(), after));
        }
        // Iterators move only once every shard was read: a failed read starts again.
        self.iterators.extend(next);
        Ok(batch)
    }

    /// One GetRecords call at `iterator`: the records in Lambda's shape, and the next iterator
    /// (none once a closed shard is read to its end).
    async fn get_records(
        &self,
        iterator: String,
        stream_arn: &str,
    ) -> Result<(Vec<EventRecord>, Option<String>), String> {
        let out = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(self.batch_size)
            .send()
            .await
            .map_err(|e| format!("get records: {e:?}"))?;
        let records = out
            .records()
            .iter()
            .map(|r| event_record(r, stream_arn))
            .collect::<Result<_, _>>()?;
        Ok((records, out.next_shard_iterator))
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
                timestamp: domain::time::format(&domain::time::now()),
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
            let (records, after) = self.get_records(current, &info.stream_arn).await?;
            if records.is_empty() {
                break;
            }
            for record in records {
                if sequence_order(sequence(&record), &info.end_sequence_number).is_gt() {
                    return Ok(event);
                }
                event.records.push(record);
            }
            iterator = after;
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(sequence_order("000000000000000000010", "9"), Greater);
        assert_eq!(sequence_order("49668", "49669"), Less);
        assert_eq!(sequence_order("", "1"), Less);
        assert_eq!(sequence_order("0042", "42"), Equal);
    }
}
