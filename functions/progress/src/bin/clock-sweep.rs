//! The clock's sweep (SPEC §10) on AWS: an EventBridge schedule invokes it every minute; it
//! stores the deadlines that passed (`processor::sweep`) and logs what it did. The table's stream
//! carries each change to webhook delivery.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    app::telemetry::init();
    let store = store::Store::from_env().await;
    let store = &store;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let now = domain::time::now();
        let report = processor::sweep::sweep(store, now)
            .await
            .map_err(|e| format!("clock sweep: {e:?}"))?;
        tracing::info!(
            settled = report.settled,
            raced = report.raced,
            "clock sweep"
        );
        Ok::<_, lambda_runtime::Error>(json!({"settled": report.settled, "raced": report.raced}))
    }))
    .await
}
