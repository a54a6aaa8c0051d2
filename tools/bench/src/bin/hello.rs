//! The reference for cold starts: a minimal `lambda_runtime` function (echoes its event), built
//! with the same release profile as the product's functions.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, std::convert::Infallible>(event.payload)
    }))
    .await
}
