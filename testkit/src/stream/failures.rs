//! Lambda's on-failure messages for stream batches, and the JSON-lines file the local run keeps
//! them in.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The message Lambda's on-failure destination receives for a DynamoDB stream batch (an SQS
/// message on AWS; a line of `stream-failures.jsonl` locally): the shard and the range of
/// sequence numbers to read again, not the records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailureMessage {
    pub version: String,
    pub timestamp: String,
    #[serde(rename = "requestContext")]
    pub request_context: Value,
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch_info: BatchInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub batch_size: usize,
    pub stream_arn: String,
}

/// Appends failure messages to a JSON-lines file (the local on-failure destination).
pub fn append_failures(path: &std::path::Path, messages: &[FailureMessage]) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    for message in messages {
        let line = serde_json::to_string(message).map_err(|e| e.to_string())?;
        writeln!(file, "{line}").map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The failure messages of a JSON-lines file; a missing file has none.
pub fn read_failures(path: &std::path::Path) -> Result<Vec<FailureMessage>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("read {}: {e}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The on-failure message Lambda sends for a DynamoDB stream batch, as AWS documents it.
    #[test]
    fn lambdas_failure_message_reads_as_a_failure_message() {
        let aws = r#"{
          "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
          "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
          "version": "1.0",
          "timestamp": "2019-11-14T00:38:06.021Z",
          "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362",
            "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
          }
        }"#;
        let message: FailureMessage = serde_json::from_str(aws).unwrap();
        assert_eq!(
            message.batch_info.start_sequence_number,
            "800000000003126276362"
        );
        assert_eq!(
            message.batch_info.shard_id,
            "shardId-00000001573689847184-864758bb"
        );
        assert_eq!(
            message.request_context["condition"],
            "RetryAttemptsExhausted"
        );
    }
}
