//! The domain: what members, programs, logs, API keys and cursors are, how input is validated,
//! amounts, time, analytics, and the typed error every use case returns. Pure: no AWS, no Lambda,
//! no I/O — the other crates build on it (ARCHITECTURE.md).

pub mod amount;
pub mod analytics;
pub mod api_keys;
pub mod cursor;
pub mod end_user;
pub mod error;
pub mod ids;
pub mod journey;
pub mod leaderboard;
pub mod log;
pub mod member;
pub mod patch;
pub mod points;
pub mod program;
pub mod progress;
pub mod rate_limit;
pub mod retry;
pub mod tenant;
pub mod time;
pub mod validate;
pub mod webhooks;

pub use error::{ApiError, FieldError};
