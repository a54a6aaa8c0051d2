//! Store errors and the one place DynamoDB's error codes are read.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use domain::error::ApiError;

#[derive(Debug)]
pub enum StoreError {
    /// A condition on a unique key failed: the record exists.
    Conflict,
    /// A concurrent writer changed the record first; the caller may re-read and retry.
    Contended,
    Throttled,
    /// A list's cursor names a position that query cannot have produced.
    BadCursor,
    Other(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ApiError::Conflict("The record already exists.".into()),
            StoreError::Contended => {
                ApiError::Conflict("The record was changed concurrently; retry.".into())
            }
            StoreError::Throttled => ApiError::Throttled,
            StoreError::BadCursor => domain::cursor::invalid_cursor(),
            StoreError::Other(cause) => ApiError::Internal(cause),
        }
    }
}

/// A conditional write's outcome: `true` when it was applied, `false` when its condition failed.
pub(super) fn applied<T>(result: Result<T, StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The reasons a cancelled transaction lists, one per item in order ("ConditionalCheckFailed",
/// "None", "TransactionConflict"…); empty for any other error.
pub(super) fn cancellation_reasons<E: ProvideErrorMetadata, R>(
    err: &SdkError<E, R>,
) -> Vec<String> {
    let message = err.message().unwrap_or_default();
    message
        .split_once('[')
        .map(|(_, r)| {
            r.trim_end_matches(']')
                .split(',')
                .map(|x| x.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the transaction's item `i` was cancelled by its own condition.
pub(super) fn condition_failed(reasons: &[String], i: usize) -> bool {
    reasons
        .get(i)
        .is_some_and(|r| r.starts_with("ConditionalCheckFailed"))
}

pub(super) fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> StoreError {
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::Conflict,
        Some("TransactionConflictException") => StoreError::Contended,
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded",
        ) => StoreError::Throttled,
        Some("TransactionCanceledException") => {
            // The message lists one reason per item: "[ConditionalCheckFailed, None]".
            let message = err.message().unwrap_or_default().to_string();
            if message.contains("ConditionalCheckFailed") {
                StoreError::Conflict
            } else if message.contains("TransactionConflict") {
                StoreError::Contended
            } else if message.contains("Throttling")
                || message.contains("ProvisionedThroughputExceeded")
            {
                StoreError::Throttled
            } else {
                StoreError::Other(format!("transaction cancelled: {message}"))
            }
        }
        _ => StoreError::Other(format!("{:?}", err.into_service_error_or_raw())),
    }
}

pub(super) trait IntoServiceErrorOrRaw {
    fn into_service_error_or_raw(self) -> String;
}

impl<E: std::fmt::Debug, R: std::fmt::Debug> IntoServiceErrorOrRaw for SdkError<E, R> {
    fn into_service_error_or_raw(self) -> String {
        match self {
            SdkError::ServiceError(e) => format!("{:?}", e.err()),
            other => format!("{other:?}"),
        }
    }
}
