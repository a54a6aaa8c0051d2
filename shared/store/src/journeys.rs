//! User-journey events: one conditional put per event (its key is the event id), listed on the
//! member's timeline (GSI2, newest `occurredAt` first).

use domain::journey::{JourneyEvent, EVENT_SLUG};
use domain::tenant::Tenant;

use super::codec::{from_item, stored, Keys};
use super::error::StoreError;
use super::layout::{journey_event_pk, member_activity_pk, JOURNEY_EVENT_SK};
use super::logs::MemberWrite;
use super::*;

/// What `insert_journey_event` did.
#[derive(Debug)]
pub enum EventWrite {
    Created,
    /// An event with this id was already stored (returned unchanged: the caller compares).
    Exists(Box<JourneyEvent>),
}

impl Store {
    /// Writes an event once per id, with the member it creates if any, all or nothing.
    pub async fn insert_journey_event(
        &self,
        tenant: &Tenant,
        event: &JourneyEvent,
        member: Option<&MemberWrite<'_>>,
    ) -> Result<EventWrite, StoreError> {
        let keys = Keys::table(journey_event_pk(tenant, &event.id), JOURNEY_EVENT_SK)
            .member_listed(
                member_activity_pk(tenant, &event.member_id, EVENT_SLUG),
                event.timeline_key(),
            );
        match self
            .insert_with_member(tenant, stored(keys, event)?, member)
            .await
        {
            Ok(()) => Ok(EventWrite::Created),
            Err(StoreError::Conflict) => {
                let existing = self
                    .get(journey_event_pk(tenant, &event.id), JOURNEY_EVENT_SK, true)
                    .await?
                    .ok_or(StoreError::Contended)?;
                Ok(EventWrite::Exists(Box::new(from_item(existing)?)))
            }
            Err(e) => Err(e),
        }
    }
}
