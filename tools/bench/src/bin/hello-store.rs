//! The hello-world reference plus the product's DynamoDB client as Lambda builds it (HTTPS, the
//! AWS configuration from the environment; built, not called): attributes cold-start init time.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let store = store::Store::new(store::Store::aws_client().await, "bench");
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let _ = store.table();
        Ok::<_, std::convert::Infallible>(event.payload)
    }))
    .await
}
