//! A capacity meter for tests and benchmarks: a DynamoDB client whose every request asks for
//! `ReturnConsumedCapacity: TOTAL` and whose every answer's capacity is recorded, so a test can
//! assert what an operation costs (issue 5's budgets).
//!
//! DynamoDB Local applies the published rules for single-item and batch operations (1 WCU per
//! started KB written, 1 RCU per started 4 KB read strongly, half that eventually) but reports
//! transactional operations at half of what AWS charges (AWS doubles them): the meter doubles them.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

use store::Store;

/// What one request cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// The DynamoDB operation, e.g. `PutItem`.
    pub operation: String,
    pub read_units: f64,
    pub write_units: f64,
}

/// The charges recorded since the last `take`.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<Vec<Charge>>>);

impl Meter {
    pub fn take(&self) -> Vec<Charge> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, charge: Charge) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(charge);
    }
}

/// Totals of a list of charges: (read units, write units).
pub fn totals(charges: &[Charge]) -> (f64, f64) {
    charges.iter().fold((0.0, 0.0), |(r, w), c| {
        (r + c.read_units, w + c.write_units)
    })
}

const READS: &[&str] = &[
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
];
const WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

#[derive(Debug)]
struct Metering {
    inner: SharedHttpConnector,
    meter: Meter,
}

impl HttpConnector for Metering {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or_default()
            .to_string();
        let metered = READS.contains(&operation.as_str()) || WRITES.contains(&operation.as_str());
        if metered {
            if let Some(mut body) = request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            {
                body["ReturnConsumedCapacity"] = "TOTAL".into();
                let bytes = body.to_string().into_bytes();
                request
                    .headers_mut()
                    .insert("content-length", bytes.len().to_string());
                *request.body_mut() = SdkBody::from(bytes);
            }
        }
        let inner = self.inner.clone();
        let meter = self.meter.clone();
        HttpConnectorFuture::new(async move {
            let mut response = inner.call(request).await?;
            if !metered {
                return Ok(response);
            }
            let body = super::take_body(&mut response).await?;
            if let Ok(answer) = serde_json::from_slice::<Value>(&body) {
                let units: f64 = match &answer["ConsumedCapacity"] {
                    Value::Array(all) => all
                        .iter()
                        .map(|c| c["CapacityUnits"].as_f64().unwrap_or(0.0))
                        .sum(),
                    one => one["CapacityUnits"].as_f64().unwrap_or(0.0),
                };
                // DynamoDB Local reports transactions at half of AWS's price.
                let units = if operation.starts_with("Transact") {
                    units * 2.0
                } else {
                    units
                };
                let write = WRITES.contains(&operation.as_str());
                meter.record(Charge {
                    operation,
                    read_units: if write { 0.0 } else { units },
                    write_units: if write { units } else { 0.0 },
                });
            }
            *response.body_mut() = SdkBody::from(body);
            Ok(response)
        })
    }
}

/// A DynamoDB Local client that records what each request costs in `meter`.
pub fn metered_client(endpoint: &str, meter: &Meter) -> Client {
    let meter = meter.clone();
    Store::local_client_over(
        endpoint,
        super::wrapped_http_client(move |inner| Metering {
            inner,
            meter: meter.clone(),
        }),
    )
}

/// `test_store()`'s table, through a metered client.
pub async fn metered_test_store() -> (Store, Meter) {
    let store = super::test_store().await;
    let meter = Meter::default();
    let client = metered_client(&super::test_endpoint().await, &meter);
    (Store::new(client, store.table()), meter)
}
