//! Stream records to changes: a new log, or a member item removed.

use aws_lambda_events::dynamodb::EventRecord;

use domain::log::ActivityLog;
use domain::tenant::Tenant;
use store::{tenant_of_key, LOG_SK, MEMBER_SK};

/// A new log taken from a stream record (it may or may not count toward progress).
#[derive(Debug, Clone)]
pub struct CountedEvent {
    /// The record's sequence number: what a partial batch failure reports.
    pub sequence: String,
    pub tenant: Tenant,
    pub log: ActivityLog,
}

/// A change of the table this processor acts on.
#[derive(Debug, Clone)]
pub enum Change {
    Log(CountedEvent),
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
            Change::MemberRemoved { sequence, .. } => sequence,
        }
    }

    pub(super) fn member(&self) -> (&Tenant, &str) {
        match self {
            Change::Log(e) => (&e.tenant, &e.log.owned_by_id),
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
            if string_attr(image, "SK").as_deref() != Some(LOG_SK) {
                return Ok(None);
            }
            let log: ActivityLog =
                serde_dynamo::from_item(image.clone()).map_err(|e| format!("not a log: {e}"))?;
            Ok(Some(Change::Log(CountedEvent {
                sequence: sequence_of(record),
                tenant: tenant_of_key(&pk)?,
                log,
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
    fn logs_and_member_removals_are_changes_other_records_are_not() {
        let mut logs = 0;
        let mut removals = 0;
        let mut ignored = 0;
        let mut poison = 0;
        for record in sample() {
            match parse(&record) {
                Ok(Some(Change::Log(e))) => {
                    assert!(!e.log.owned_by_id.is_empty());
                    assert_eq!(e.sequence, record.change.sequence_number.clone().unwrap());
                    logs += 1;
                }
                Ok(Some(Change::MemberRemoved { member_id, .. })) => {
                    assert!(!member_id.is_empty());
                    removals += 1;
                }
                Ok(None) => ignored += 1,
                Err(_) => poison += 1,
            }
        }
        assert!(
            logs >= 1 && removals >= 1 && ignored >= 1 && poison >= 1,
            "{logs} {removals} {ignored} {poison}"
        );
    }
}
