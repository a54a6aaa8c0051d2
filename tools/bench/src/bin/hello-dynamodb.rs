//! The hello-world reference that also does what a function's first request must: build the
//! product's DynamoDB client from the environment (as every function does) and make one GetItem
//! per request. The fair reference for a function whose first answer needs the store.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let store = store::Store::from_env().await;
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // An API key that does not exist: one strongly consistent GetItem, like a member GET.
        store
            .get_key("ak_bench_reference")
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok::<_, String>(event.payload)
    }))
    .await
}
