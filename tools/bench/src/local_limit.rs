//! The local limit (issue 19): how fast DynamoDB Local takes the writes a burst of logs made —
//! every item the API and the stream processor wrote (logs, period items, windows, members'
//! analytics), read back from the table's stream — when the same SDK client issues them raw, as
//! fast as it answers. The progress pipeline's sustained rate over the burst divided by this rate
//! is the share of the machine's limit the product reaches (target ≥ 80 %). Only writes are
//! replayed: the pipeline's reads come on top, so the share is a conservative figure.
//!
//! The writes go to the same table (stream and indexes included, so each write costs what the
//! original did) under keys of their own. (A second table of the same schema took the same writes
//! ten times slower in DynamoDB Local once the first held a few bursts: its limit, not ours.)

use std::collections::HashMap;
use std::time::Instant;

use aws_lambda_events::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt;
use serde::Serialize;
use store::Store;

#[derive(Debug, Serialize)]
pub struct LocalLimit {
    /// Logs of the burst whose writes were replayed.
    pub logs: usize,
    /// The burst's writes (stream records), replayed raw.
    pub writes: usize,
    pub concurrency: usize,
    pub seconds: f64,
    /// `logs / seconds`: the rate DynamoDB Local takes these logs' writes.
    pub logs_per_s: f64,
}

/// One write of the burst: the item as written, or the key removed.
enum Write {
    Put(HashMap<String, AttributeValue>),
    Delete(HashMap<String, AttributeValue>),
}

/// The burst's write under keys of its own: `RAW#` before every key (table and index), and a
/// log's sort key renamed, so that neither the stream processor nor webhook delivery takes the
/// copies for real items (they parse no tenant from `RAW#…` and no log from `LOG-RAW`), and no
/// list shows them.
fn write_of(record: EventRecord) -> Option<Write> {
    let keyed = |item: serde_dynamo::Item| -> HashMap<String, AttributeValue> {
        let mut item: HashMap<String, AttributeValue> = item.into();
        for name in ["PK", "GSI1PK", "GSI2PK"] {
            if let Some(AttributeValue::S(key)) = item.get_mut(name) {
                *key = format!("RAW#{key}");
            }
        }
        if let Some(AttributeValue::S(sk)) = item.get_mut("SK") {
            if sk == store::LOG_SK {
                *sk = format!("{}-RAW", store::LOG_SK);
            }
        }
        item
    };
    if record.event_name == "REMOVE" {
        return Some(Write::Delete(keyed(record.change.keys)));
    }
    (!record.change.new_image.is_empty()).then(|| Write::Put(keyed(record.change.new_image)))
}

/// Replays `records` (the burst's stream records, in order) into `raw` at each concurrency and
/// answers the fastest run.
pub async fn measure(
    raw: &Store,
    records: Vec<EventRecord>,
    logs: usize,
    concurrencies: &[usize],
) -> Result<LocalLimit, String> {
    let writes: Vec<Write> = records.into_iter().filter_map(write_of).collect();
    let mut best: Option<LocalLimit> = None;
    for &concurrency in concurrencies {
        let started = Instant::now();
        let results: Vec<bool> = futures_util::stream::iter(&writes)
            .map(|write| async move {
                match write {
                    Write::Put(item) => raw
                        .client()
                        .put_item()
                        .table_name(raw.table())
                        .set_item(Some(item.clone()))
                        .send()
                        .await
                        .is_ok(),
                    Write::Delete(key) => raw
                        .client()
                        .delete_item()
                        .table_name(raw.table())
                        .set_key(Some(key.clone()))
                        .send()
                        .await
                        .is_ok(),
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let seconds = started.elapsed().as_secs_f64();
        let failed = results.iter().filter(|ok| !**ok).count();
        if failed > 0 {
            return Err(format!("{failed} raw writes failed"));
        }
        let limit = LocalLimit {
            logs,
            writes: writes.len(),
            concurrency,
            seconds,
            logs_per_s: logs as f64 / seconds,
        };
        eprintln!(
            "local limit: the burst's {} writes ({:.1} a log) raw at concurrency {concurrency} in {:.0} ms: {:.0} logs/s",
            limit.writes,
            limit.writes as f64 / logs.max(1) as f64,
            seconds * 1000.0,
            limit.logs_per_s
        );
        if best
            .as_ref()
            .is_none_or(|b| limit.logs_per_s > b.logs_per_s)
        {
            best = Some(limit);
        }
    }
    best.ok_or_else(|| "no concurrency to measure".to_string())
}
