//! The hello-world reference plus the product's logging setup: attributes cold-start init time.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    app::telemetry::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, std::convert::Infallible>(event.payload)
    }))
    .await
}
