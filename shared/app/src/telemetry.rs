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

/// CloudWatch's metric namespace for the product's own metrics.
pub const NAMESPACE: &str = "Gamify";

/// One CloudWatch Embedded Metric Format line: printed to stdout in Lambda, CloudWatch turns
/// its fields into metrics (no API call, no extra latency). `metrics`: (name, value, unit).
pub fn emf_line(at: domain::time::Timestamp, metrics: &[(&str, f64, &str)]) -> serde_json::Value {
    let definitions: Vec<serde_json::Value> = metrics
        .iter()
        .map(|(name, _, unit)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": definitions,
            }],
        },
    });
    for (name, value, _) in metrics {
        line[*name] = serde_json::json!(value);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_each_metric_and_carries_its_value() {
        let at = domain::time::now();
        let line = emf_line(
            at,
            &[
                ("LogsProcessed", 3.0, "Count"),
                ("ProgressLag", 250.0, "Milliseconds"),
            ],
        );
        assert_eq!(line["_aws"]["Timestamp"], at.timestamp_millis());
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Gamify");
        assert_eq!(declared["Metrics"][1]["Name"], "ProgressLag");
        assert_eq!(declared["Metrics"][1]["Unit"], "Milliseconds");
        assert_eq!(line["LogsProcessed"], 3.0);
        assert_eq!(line["ProgressLag"], 250.0);
    }
}
