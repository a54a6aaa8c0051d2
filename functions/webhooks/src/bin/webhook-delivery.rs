#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    app::telemetry::init();
    let function = webhooks::delivery::DeliveryFunction::from_env().await;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| function.handle(event.payload),
    ))
    .await
}
