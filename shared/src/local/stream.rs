//! The local stand-in for Lambda's DynamoDB event source mapping: reads DynamoDB Local's stream
//! (DescribeStream, GetShardIterator, GetRecords) and hands batches in the `aws_lambda_events`
//! shape to the real stream handler.

use std::collections::HashMap;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Region};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};

use crate::store::{Store, LOCAL_REGION};

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
    /// Records per GetRecords call, per shard.
    batch_size: i32,
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
        let http_client = super::wrapped_http_client(TypeEmptyMaps);
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(Store::local_credentials())
            .endpoint_url(endpoint)
            .build();
        Ok(StreamPoller {
            streams: Client::from_conf(config),
            stream_arn,
            iterators: HashMap::new(),
            batch_size: 1000,
        })
    }

    /// At most `records` per shard per poll: what Lambda's event source mapping hands over at once
    /// (`BatchSize` in template.yaml). Tests keep the default, 1000.
    pub fn with_batch_size(mut self, records: i32) -> Self {
        self.batch_size = records;
        self
    }

    /// The records written since the last poll, in one event (one batch).
    pub async fn poll(&mut self) -> Result<Event, String> {
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
            let iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| format!("shard iterator: {e:?}"))?
                .shard_iterator;
            self.iterators.insert(id.to_string(), iterator);
        }
        let mut records = Vec::new();
        for iterator in self.iterators.values_mut() {
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
                records.push(event_record(record, &self.stream_arn)?);
            }
            // A closed shard has no next iterator.
            *iterator = out.next_shard_iterator;
        }
        let mut event = Event::default();
        event.records = records;
        Ok(event)
    }
}
