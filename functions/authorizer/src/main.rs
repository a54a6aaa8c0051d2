use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    app::telemetry::init();
    let authorizer = authorizer::Authorizer::from_env().await;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        authorizer.handle(event.payload).await
    }))
    .await
}
