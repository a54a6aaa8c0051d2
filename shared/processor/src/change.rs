//! Stream records to changes: a new log, a new user-journey event, or a member item removed.

use aws_lambda_events::dynamodb::EventRecord;

use domain::log::ActivityLog;
use domain::points::PointsEntry;
use domain::tenant::Tenant;
use domain::time::Timestamp;
use store::{tenant_of_key, JOURNEY_EVENT_SK, LOG_SK, MEMBER_SK, POINTS_SK};

/// A new log taken from a stream record (it may or may not count toward progress).
#[derive(Debug, Clone)]
pub struct CountedEvent {
    /// The record's sequence number: what a partial batch failure reports.
    pub sequence: String,
    pub tenant: Tenant,
    pub log: ActivityLog,
    /// The log item's table key (what the deletion cascade removes).
    pub key: (String, String),
}

/// A new user-journey event: it counts toward `totalEvents` and `lastSeenAt`, not progress.
#[derive(Debug, Clone)]
pub struct JourneyEventSeen {
    pub sequence: String,
    pub tenant: Tenant,
    pub member_id: String,
    pub event_id: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub key: (String, String),
}

/// A new points entry (a credit or a spend): it moves the member's points boards.
#[derive(Debug, Clone)]
pub struct PointsSeen {
    pub sequence: String,
    pub tenant: Tenant,
    pub entry: PointsEntry,
    pub key: (String, String),
}

/// A change of the table this processor acts on.
#[derive(Debug, Clone)]
pub enum Change {
    Log(CountedEvent),
    JourneyEvent(JourneyEventSeen),
    Points(PointsSeen),
    /// A member item was removed: a DELETE, or a change of `externalId` (the item moves).
    MemberRemoved {
        sequence: String,
        tenant: Tenant,
        member_id: String,
    },
}

impl Change {
    pub(super) fn sequence(&self) -> &str {
        match self {
            Change::Log(e) => &e.sequence,
            Change::JourneyEvent(e) => &e.sequence,
            Change::Points(e) => &e.sequence,
            Change::MemberRemoved { sequence, .. } => sequence,
        }
    }

    pub(super) fn member(&self) -> (&Tenant, &str) {
        match self {
            Change::Log(e) => (&e.tenant, &e.log.owned_by_id),
            Change::JourneyEvent(e) => (&e.tenant, &e.member_id),
            Change::Points(e) => (&e.tenant, &e.entry.owned_by_id),
            Change::MemberRemoved {
                tenant, member_id, ..
            } => (tenant, member_id),
        }
    }
}

pub(super) fn sequence_of(record: &EventRecord) -> String {
    record
        .change
        .sequence_number
        .clone()
        .unwrap_or_else(|| record.event_id.clone())
}

pub(super) fn string_attr(image: &serde_dynamo::Item, name: &str) -> Option<String> {
    image
        .get(name)
        .and_then(|v| serde_dynamo::from_attribute_value(v.clone()).ok())
}

/// `Ok(None)` for records this processor does not handle.
pub fn parse(record: &EventRecord) -> Result<Option<Change>, String> {
    match record.event_name.as_str() {
        "INSERT" => {
            let image = &record.change.new_image;
            let pk = string_attr(image, "PK").ok_or("record without PK")?;
            let sk = string_attr(image, "SK").unwrap_or_default();
            if sk == JOURNEY_EVENT_SK {
                let event: domain::journey::JourneyEvent =
                    serde_dynamo::from_item(image.clone())
                        .map_err(|e| format!("not a user-journey event: {e}"))?;
                return Ok(Some(Change::JourneyEvent(JourneyEventSeen {
                    sequence: sequence_of(record),
                    tenant: tenant_of_key(&pk)?,
                    member_id: event.member_id,
                    event_id: event.id,
                    occurred_at: event.occurred_at,
                    received_at: event.received_at,
                    key: (pk, sk),
                })));
            }
            // A points entry's partition is its own; the balance item (same sort key) lives in
            // the member's and is not an entry.
            if sk == POINTS_SK && pk.contains("#POINTS#") {
                let entry: PointsEntry = serde_dynamo::from_item(image.clone())
                    .map_err(|e| format!("not a points entry: {e}"))?;
                return Ok(Some(Change::Points(PointsSeen {
                    sequence: sequence_of(record),
                    tenant: tenant_of_key(&pk)?,
                    entry,
                    key: (pk, sk),
                })));
            }
            if sk != LOG_SK {
                return Ok(None);
            }
            let log: ActivityLog =
                serde_dynamo::from_item(image.clone()).map_err(|e| format!("not a log: {e}"))?;
            Ok(Some(Change::Log(CountedEvent {
                sequence: sequence_of(record),
                tenant: tenant_of_key(&pk)?,
                log,
                key: (pk, sk),
            })))
        }
        "REMOVE" => {
            let keys = &record.change.keys;
            if string_attr(keys, "SK").as_deref() != Some(MEMBER_SK) {
                return Ok(None);
            }
            let pk = string_attr(keys, "PK").ok_or("record without PK")?;
            let member_id = string_attr(&record.change.old_image, "id")
                .ok_or("member removal without the old image's id")?;
            Ok(Some(Change::MemberRemoved {
                sequence: sequence_of(record),
                tenant: tenant_of_key(&pk)?,
                member_id,
            }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample stream batch of `events/` (an insert of a log, a modify, a member removal, a
    /// poison record) as Lambda delivers it.
    fn sample() -> Vec<EventRecord> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stream/batch.json");
        let event: aws_lambda_events::dynamodb::Event =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event.records
    }

    #[test]
    fn logs_events_and_member_removals_are_changes_other_records_are_not() {
        let mut logs = 0;
        let mut events = 0;
        let mut removals = 0;
        let mut ignored = 0;
        let mut poison = 0;
        // The points entry is a change; the balance item beside the member is not.
        let mut points = 0;
        for record in sample() {
            match parse(&record) {
                Ok(Some(Change::Log(e))) => {
                    assert!(!e.log.owned_by_id.is_empty());
                    assert_eq!(e.sequence, record.change.sequence_number.clone().unwrap());
                    logs += 1;
                }
                Ok(Some(Change::JourneyEvent(e))) => {
                    assert_eq!(e.event_id, "evt-checkout-7");
                    assert_eq!(e.key.1, "JEVENT");
                    events += 1;
                }
                Ok(Some(Change::MemberRemoved { member_id, .. })) => {
                    assert!(!member_id.is_empty());
                    removals += 1;
                }
                Ok(Some(Change::Points(p))) => {
                    assert_eq!(p.entry.unique_identifier, "welcome-bonus-1");
                    points += 1;
                }
                Ok(None) => ignored += 1,
                Err(_) => poison += 1,
            }
        }
        assert!(
            logs >= 1 && events == 1 && removals >= 1 && ignored >= 2 && poison >= 1 && points == 1,
            "{logs} {events} {removals} {ignored} {poison} {points}"
        );
    }
}
