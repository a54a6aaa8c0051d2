//! The stream processor Lambda (SPEC §6): a DynamoDB stream batch in, partial batch failures out.
//! The work is `processor`; this adapter only maps the event and the response.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::time::Timestamp;
use processor::BatchReport;
use store::Store;

pub struct Processor {
    store: Store,
    /// Print EMF metric lines (in Lambda, where CloudWatch reads stdout).
    metrics: bool,
}

/// The batch's figures as an EMF line: logs processed, how long the oldest log waited after its
/// 201 (progress lag), rewards issued, records failed.
pub fn metrics(report: &BatchReport, now: Timestamp) -> serde_json::Value {
    let lag = report
        .oldest_log
        .map(|t| (now - t).num_milliseconds().max(0) as f64)
        .unwrap_or(0.0);
    app::telemetry::emf_line(
        now,
        &[
            ("LogsProcessed", report.logs as f64, "Count"),
            ("ProgressLag", lag, "Milliseconds"),
            ("RewardsIssued", report.rewards_issued as f64, "Count"),
            ("RecordsFailed", report.failed.len() as f64, "Count"),
        ],
    )
}

impl Processor {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            metrics: std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        }
    }

    pub async fn from_env() -> Self {
        Self::new(Store::from_env().await)
    }

    /// Applies the batch; the records that failed are reported so that only they (and what
    /// follows them in their shard) are retried (`ReportBatchItemFailures`).
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let now = domain::time::now();
        let report = processor::process_batch_reported(&self.store, &event.records, now).await;
        if self.metrics && report.logs > 0 {
            println!("{}", metrics(&report, now));
        }
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = report
            .failed
            .into_iter()
            .map(|sequence| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                failure
            })
            .collect();
        response
    }
}
