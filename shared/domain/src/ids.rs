//! Ids the platform generates (SPEC §2: UUIDs, time-ordered v7).

/// A new record id: a UUIDv7, so lists sorted by id run in creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
