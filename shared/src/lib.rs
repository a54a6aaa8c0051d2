//! The domain crate shared by every function: types, validation, analytics, keys, cursors,
//! the DynamoDB store and the HTTP envelope.

pub mod accounts;
pub mod activity;
pub mod amount;
pub mod analytics;
pub mod cursor;
pub mod error;
pub mod http;
pub mod ids;
pub mod keys;
pub mod lists;
pub mod log;
pub mod logs;
pub mod member;
pub mod members;
pub mod patch;
pub mod processor;
pub mod program;
pub mod programs;
pub mod progress;
pub mod rate_limit;
pub mod reconcile;
pub mod records;
pub mod retry;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod time;
pub mod validate;

pub use error::{ApiError, FieldError};
