//! The use cases behind the HTTP routes (members, logs, programs, lists, records, accounts) over
//! the store, and the HTTP adapter every function serves through (`http`: request parsing, the
//! response envelope, the one status map).

pub mod accounts;
pub mod activity;
pub mod cache;
pub mod http;
pub mod idempotency;
pub mod journeys;
pub mod leaderboards;
pub mod lists;
pub mod logs;
pub mod members;
pub mod points;
pub mod programs;
pub mod records;
pub mod request;
pub mod telemetry;
pub mod webhook_delivery;
pub mod webhook_events;
pub mod webhooks;
