//! Logging: JSON lines in Lambda (CloudWatch), readable text locally.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .without_time()
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
    // Already initialised (tests, the local server): keep the first subscriber.
    let _ = result;
}
