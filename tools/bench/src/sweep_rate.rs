//! The clock's sweep rate (SPEC §10, issue 20): `records` streak runs in progress whose deadline
//! is the same moment (midnight in one time zone), written straight into the table as the stream
//! processor writes them (the due index's attributes included), then one sweep that settles them
//! all, timed. What each settle costs is one conditional UpdateItem; the due index is read a page
//! of 100 entries at a time per shard.

use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::{json, Value};
use store::Store;

pub struct SweepRate {
    pub records: usize,
    pub settled: usize,
    pub seconds: f64,
    pub per_second: f64,
}

impl SweepRate {
    pub fn to_json(&self) -> Value {
        json!({"records": self.records, "settled": self.settled, "seconds": self.seconds, "perSecond": self.per_second})
    }
}

pub async fn measure(store: &Store, records: usize) -> Result<SweepRate, String> {
    let now = domain::time::now();
    // A sweep first, so the checkpoint is at this hour and the timed one reads what a sweep
    // running every minute reads.
    processor::sweep::sweep(store, now)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let deadline = domain::time::format(&(now - chrono::Duration::seconds(1)));
    let tenant = format!("T#bench-sweep-{}#live", uuid::Uuid::now_v7().simple());
    let items: Vec<WriteRequest> = (0..records)
        .map(|i| {
            let pk = format!("{tenant}#MEMBER#{i}");
            let sk = "PROGRESS#bench#2026-12-01".to_string();
            let mut item = std::collections::HashMap::from([
                ("PK".to_string(), AttributeValue::S(pk.clone())),
                ("SK".to_string(), AttributeValue::S(sk.clone())),
                ("id".to_string(), AttributeValue::S(format!("bench-{i}"))),
                (
                    "streakProgressStatus".to_string(),
                    AttributeValue::S("in_progress".into()),
                ),
                ("ver".to_string(), AttributeValue::N("1".into())),
                // The deadline the settle is conditional on; `dueAt` (below) is the same moment,
                // so the sweep's action is the break, not an at-risk nudge.
                ("breaksAt".to_string(), AttributeValue::S(deadline.clone())),
            ]);
            for (name, value) in Store::due_keys(&pk, &sk, &deadline) {
                item.insert(name.to_string(), AttributeValue::S(value));
            }
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in items.chunks(25) {
        let mut pending = chunk.to_vec();
        while !pending.is_empty() {
            let out = store
                .client()
                .batch_write_item()
                .request_items(store.table(), pending)
                .send()
                .await
                .map_err(|e| format!("write the bench's runs: {e:?}"))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(store.table()))
                .unwrap_or_default();
        }
    }
    let started = Instant::now();
    let report = processor::sweep::sweep(store, domain::time::now())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if report.settled != records {
        // A rate over runs the sweep did not settle would measure nothing.
        return Err(format!(
            "the sweep settled {} of the {records} runs due",
            report.settled
        ));
    }
    let rate = SweepRate {
        records,
        settled: report.settled,
        seconds,
        per_second: report.settled as f64 / seconds,
    };
    eprintln!(
        "clock sweep: {} runs due at one moment, {} settled in {:.2} s = {:.0} settles/s",
        rate.records, rate.settled, rate.seconds, rate.per_second
    );
    Ok(rate)
}
