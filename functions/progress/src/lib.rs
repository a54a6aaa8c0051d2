//! The stream processor Lambda (SPEC §6): a DynamoDB stream batch in, partial batch failures out.
//! The work is `shared::processor`; this adapter only maps the event and the response.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::store::Store;

pub struct Processor {
    store: Store,
}

impl Processor {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn from_env() -> Self {
        Self::new(Store::from_env().await)
    }

    /// Applies the batch; the records that failed are reported so that only they (and what
    /// follows them in their shard) are retried (`ReportBatchItemFailures`).
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let failed =
            shared::processor::process_batch(&self.store, &event.records, shared::time::now())
                .await;
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = failed
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
