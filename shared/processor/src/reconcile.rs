//! Reconciliation: a member's progress, rewards and analytics recomputed from the logs (and
//! user-journey events) stored for them. Progress is a pure function of the counted logs and the processor is idempotent, so
//! handing it every stored log again, as stream INSERT records, repairs whatever a lost batch
//! left out and changes nothing that is already right.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use serde_json::json;

use domain::tenant::Tenant;
use domain::time::Timestamp;
use store::{MemberFilter, Store};

/// What a reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    pub members: usize,
    pub logs: usize,
    /// Logs the processor could not apply (their members are reported in the log); run again.
    pub failed: usize,
}

/// The stream record an INSERT of `item` produces (what the processor reads of it).
fn insert_record(
    item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    n: usize,
) -> Result<EventRecord, String> {
    let image = serde_dynamo::Item::from(item);
    let keys: serde_dynamo::Item = image
        .iter()
        .filter(|(k, _)| *k == "PK" || *k == "SK")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<std::collections::HashMap<_, _>>()
        .into();
    serde_json::from_value(json!({
        "eventID": format!("reconcile-{n}"),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.1",
        "awsRegion": "",
        "eventSourceARN": "reconciliation",
        "dynamodb": {
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": format!("{n}"),
            "SizeBytes": 0,
            "ApproximateCreationDateTime": 0,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }))
    .map_err(|e| format!("reconciliation record: {e}"))
}

/// Recomputes one member's progress from their stored logs.
pub async fn member(
    store: &Store,
    tenant: &Tenant,
    member_id: &str,
    now: Timestamp,
) -> Result<Reconciled, String> {
    let items = store
        .member_activity_items(tenant, member_id)
        .await
        .map_err(|e| format!("read the logs of {member_id}: {e:?}"))?;
    let mut event = Event::default();
    for (n, item) in items.into_iter().enumerate() {
        event.records.push(insert_record(item, n)?);
    }
    let failed = crate::process_batch(store, &event.records, now).await;
    Ok(Reconciled {
        members: 1,
        logs: event.records.len(),
        failed: failed.len(),
    })
}

/// Recomputes the progress of every member of the tenant.
pub async fn tenant(store: &Store, tenant: &Tenant, now: Timestamp) -> Result<Reconciled, String> {
    let mut total = Reconciled::default();
    let mut start = None;
    loop {
        let (members, next) = store
            .list_members(tenant, &MemberFilter::default(), 100, start)
            .await
            .map_err(|e| format!("list members: {e:?}"))?;
        for m in members {
            let done = member(store, tenant, &m.id, now).await?;
            total.members += 1;
            total.logs += done.logs;
            total.failed += done.failed;
        }
        match next {
            Some(next) => start = Some(next),
            None => return Ok(total),
        }
    }
}
