//! The events a stored change means (SPEC §9). The table's stream is the outbox: every change of
//! state is in it, written atomically with the change, and kept until processed. This reads one
//! change — its sort key and its old and new images, as JSON — and names the events, each with a
//! deterministic id, so that a replayed stream record means the same event again and is delivered
//! once (the delivery is created once per endpoint and event id).

use domain::member::Member;
use domain::time::Timestamp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One event: `body` is what every endpoint receives, `{type, timestamp, data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEvent {
    /// `msg_…`: the `webhook-id` of every delivery of this event.
    pub id: String,
    pub event_type: &'static str,
    pub body: String,
}

/// A member's removal, which is a deletion only if its id is not taken again (a new externalId
/// is a removal and an insert of the member item): the caller checks before delivering.
#[derive(Debug, Clone, PartialEq)]
pub enum Meaning {
    Event(OutboundEvent),
    DeletedUnlessRenamed {
        member_id: String,
        event: OutboundEvent,
    },
}

/// The same event always gets the same id (its type and the record it is about, per tenant).
pub fn event_id(key_prefix: &str, event_type: &str, record_id: &str) -> String {
    let digest = Sha256::digest(format!("{key_prefix}|{event_type}|{record_id}").as_bytes());
    format!("msg_{}", &hex::encode(digest)[..32])
}

fn event(
    key_prefix: &str,
    event_type: &'static str,
    record_id: &str,
    at: Timestamp,
    data: Value,
) -> OutboundEvent {
    OutboundEvent {
        id: event_id(key_prefix, event_type, record_id),
        event_type,
        body: domain::webhooks::payload(event_type, at, data),
    }
}

/// The events of one change of the item with sort key `sk` under tenant `key_prefix`: a reward
/// created, a progress record reaching `completed`, `broken` or `failed`, a member created or
/// removed, a board's period announced by the clock. `at` is when the change happened; records are shown as the read routes show them.
pub fn meaning(
    key_prefix: &str,
    sk: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    at: Timestamp,
) -> Option<Meaning> {
    let id_of = |v: &Value| v["id"].as_str().map(str::to_string);
    if sk.starts_with("REWARD#") {
        let (None, Some(reward)) = (old, new) else {
            return None;
        };
        let data = crate::records::as_read(reward.clone(), at);
        return Some(Meaning::Event(event(
            key_prefix,
            "reward_log.created",
            &id_of(reward)?,
            at,
            data,
        )));
    }
    if sk.starts_with("PROGRESS#") {
        let record = new?;
        let (field, kinds): (&str, &[(&str, &'static str)]) =
            if record.get("streakProgressStatus").is_some() {
                (
                    "streakProgressStatus",
                    &[
                        ("completed", "streak_progress.completed"),
                        ("broken", "streak_progress.broken"),
                        ("in_progress", "streak_progress.restored"),
                    ],
                )
            } else {
                (
                    "challengeProgressStatus",
                    &[
                        ("completed", "challenge_progress.completed"),
                        ("failed", "challenge_progress.failed"),
                    ],
                )
            };
        let status = record[field].as_str()?;
        let before = old.and_then(|o| o[field].as_str());
        if before == Some(status) {
            return None;
        }
        // Back in progress is news only after a break: a backfilled log healed the run.
        if status == "in_progress" && before != Some("broken") {
            return None;
        }
        let (_, event_type) = kinds.iter().find(|(s, _)| *s == status)?;
        // A run can break, heal and break again: each of those changes is its own event, named
        // by the deadline it is about (a completion happens once per record).
        let record_id = id_of(record)?;
        let change = match status {
            "broken" => record["streakBrokenAt"].as_str(),
            "in_progress" => record["breaksAt"].as_str(),
            _ => None,
        };
        let event_key = match change {
            Some(at) => format!("{record_id}@{at}"),
            None => record_id,
        };
        let data = crate::records::as_read(record.clone(), at);
        return Some(Meaning::Event(event(
            key_prefix, event_type, &event_key, at, data,
        )));
    }
    if let Some(period_key) = sk.strip_prefix(store::BOARD_FINISHED_PREFIX) {
        // A live board's period with standings; a draft or paused board's end is only noted.
        let (None, Some(finished)) = (old, new) else {
            return None;
        };
        let ranked = finished["rankings"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        if finished["status"] != "live" || !ranked {
            return None;
        }
        let board_id = finished["leaderboardId"].as_str()?;
        let mut data = finished.clone();
        if let Some(fields) = data.as_object_mut() {
            for internal in ["PK", "SK", "status"] {
                fields.remove(internal);
            }
        }
        return Some(Meaning::Event(event(
            key_prefix,
            "leaderboard.finished",
            &format!("{board_id}@{period_key}"),
            at,
            data,
        )));
    }
    if sk == store::MEMBER_SK {
        return match (old, new) {
            (None, Some(created)) => {
                let member: Member = serde_json::from_value(created.clone()).ok()?;
                let data = member.to_record(at);
                Some(Meaning::Event(event(
                    key_prefix,
                    "member.created",
                    &member.id,
                    at,
                    data,
                )))
            }
            (Some(removed), None) => {
                let member_id = id_of(removed)?;
                let data =
                    json!({"id": member_id, "externalId": removed["externalId"], "deleted": true});
                Some(Meaning::DeletedUnlessRenamed {
                    event: event(key_prefix, "member.deleted", &member_id, at, data),
                    member_id,
                })
            }
            _ => None,
        };
    }
    None
}

/// Every event of one change: `meaning`'s, and what the clock added to a streak run (SPEC §10):
/// `streak_progress.at_risk` when the sweep noted the run at risk, `.freeze_used` when a
/// freeze kept a period, `.freeze_earned` when the run earned one.
pub fn meanings(
    key_prefix: &str,
    sk: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    at: Timestamp,
) -> Vec<Meaning> {
    let mut out: Vec<Meaning> = meaning(key_prefix, sk, old, new, at).into_iter().collect();
    let (true, Some(record)) = (sk.starts_with("PROGRESS#"), new) else {
        return out;
    };
    let Some(id) = record["id"].as_str() else {
        return out;
    };
    let was = |name: &str| old.map_or(&Value::Null, |o| &o[name]);
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let view = || crate::records::as_read(record.clone(), at);
    if let Some(deadline) = record["atRiskSentFor"].as_str() {
        if was("atRiskSentFor").as_str() != Some(deadline) {
            let task = &record["taskProgress"];
            let number = |v: &Value| {
                v.as_f64()
                    .and_then(|f| rust_decimal::Decimal::try_from(f).ok())
                    .unwrap_or_default()
            };
            let remaining = (number(&task["targetValue"]) - number(&task["currentValue"]))
                .max(rust_decimal::Decimal::ZERO);
            let data = json!({
                "record": view(),
                "periodEnd": deadline,
                "remainingValue": domain::amount::Amount::from(remaining),
            });
            out.push(Meaning::Event(event(
                key_prefix,
                "streak_progress.at_risk",
                &format!("{id}@at_risk@{deadline}"),
                at,
                data,
            )));
        }
    }
    if count(&record["freezesUsed"]) > count(was("freezesUsed")) {
        let period = record["frozenPeriods"]
            .as_array()
            .and_then(|p| p.last())
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push(Meaning::Event(event(
            key_prefix,
            "streak_progress.freeze_used",
            &format!("{id}@freeze_used@{period}"),
            at,
            view(),
        )));
    }
    let earned = count(&record["freezesEarned"]);
    if earned > count(was("freezesEarned")) {
        out.push(Meaning::Event(event(
            key_prefix,
            "streak_progress.freeze_earned",
            &format!("{id}@freeze_earned@{earned}"),
            at,
            view(),
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "T#acct#live";

    fn at() -> Timestamp {
        "2026-12-03T10:00:00Z".parse().unwrap()
    }

    fn streak(status: &str) -> Value {
        json!({"PK": "T#acct#live#MEMBER#m1", "SK": "PROGRESS#p1#2026-12-01", "id": "sp1", "streakId": "p1",
               "ownedById": "m1", "streakProgressStatus": status, "ver": 3, "runKey": "2026-12-01"})
    }

    fn only_event(m: Option<Meaning>) -> OutboundEvent {
        match m {
            Some(Meaning::Event(e)) => e,
            other => panic!("one event expected: {other:?}"),
        }
    }

    #[test]
    fn a_live_boards_period_with_standings_is_announced_once_and_others_are_not() {
        let finished = |status: &str, rankings: Value| {
            json!({"PK": "T#acct#live#BOARD#b1", "SK": "FINISHED#2026-W49", "leaderboardId": "b1",
                   "status": status, "periodKey": "2026-W49", "totalParticipants": 1, "rankings": rankings})
        };
        let one = json!([{"rank": 1, "ownedById": "m1", "value": 5}]);
        let sk = "FINISHED#2026-W49";
        let e = only_event(meaning(
            T,
            sk,
            None,
            Some(&finished("live", one.clone())),
            at(),
        ));
        assert_eq!(e.event_type, "leaderboard.finished");
        assert_eq!(e.id, event_id(T, "leaderboard.finished", "b1@2026-W49"));
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["data"]["rankings"], one);
        assert_eq!(body["data"]["periodKey"], "2026-W49");
        for internal in ["PK", "SK", "status"] {
            assert!(body["data"].get(internal).is_none(), "{internal} in {body}");
        }
        let live = finished("live", one.clone());
        assert!(meaning(T, sk, Some(&live), Some(&live), at()).is_none());
        assert!(meaning(T, sk, None, Some(&finished("paused", one)), at()).is_none());
        assert!(meaning(T, sk, None, Some(&finished("live", json!([]))), at()).is_none());
    }

    #[test]
    fn a_progress_record_reaching_an_end_state_is_one_event_with_a_stable_id() {
        let done = streak("completed");
        let e = only_event(meaning(
            T,
            "PROGRESS#p1#2026-12-01",
            Some(&streak("in_progress")),
            Some(&done),
            at(),
        ));
        assert_eq!(e.event_type, "streak_progress.completed");
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["type"], "streak_progress.completed");
        assert_eq!(body["timestamp"], "2026-12-03T10:00:00.000Z");
        assert_eq!(body["data"]["id"], "sp1");
        assert!(
            body["data"].get("ver").is_none() && body["data"].get("PK").is_none(),
            "as read"
        );
        // Written completed at once, or replayed: the same id.
        let again = only_event(meaning(
            T,
            "PROGRESS#p1#2026-12-01",
            None,
            Some(&done),
            at(),
        ));
        assert_eq!(again.id, e.id);
        assert!(e.id.starts_with("msg_") && e.id.len() == 36);
        // Another tenant's record with the same id is another event.
        assert_ne!(
            event_id("T#other#live", "streak_progress.completed", "sp1"),
            e.id
        );
    }

    #[test]
    fn unchanged_or_in_progress_states_are_no_event() {
        let sk = "PROGRESS#p1#2026-12-01";
        assert!(meaning(
            T,
            sk,
            Some(&streak("completed")),
            Some(&streak("completed")),
            at()
        )
        .is_none());
        assert!(meaning(T, sk, None, Some(&streak("in_progress")), at()).is_none());
        assert!(
            meaning(T, sk, Some(&streak("in_progress")), None, at()).is_none(),
            "absorbed run"
        );
        let broken = only_event(meaning(
            T,
            sk,
            Some(&streak("in_progress")),
            Some(&streak("broken")),
            at(),
        ));
        assert_eq!(broken.event_type, "streak_progress.broken");
        // Healed by a backfill, then broken at a later deadline: two more events, each its own id.
        let run = |status: &str, broken_at: &str, breaks_at: &str| json!({"id": "sp1", "streakProgressStatus": status, "streakBrokenAt": broken_at, "breaksAt": breaks_at});
        let first_break = run(
            "broken",
            "2026-12-02T00:00:00.000Z",
            "2026-12-02T00:00:00.000Z",
        );
        let healed = run("in_progress", "", "2026-12-04T00:00:00.000Z");
        let second_break = run(
            "broken",
            "2026-12-04T00:00:00.000Z",
            "2026-12-04T00:00:00.000Z",
        );
        let restored = only_event(meaning(T, sk, Some(&first_break), Some(&healed), at()));
        assert_eq!(restored.event_type, "streak_progress.restored");
        let again = only_event(meaning(T, sk, Some(&healed), Some(&second_break), at()));
        let first = only_event(meaning(
            T,
            sk,
            Some(&streak("in_progress")),
            Some(&first_break),
            at(),
        ));
        assert_eq!(again.event_type, "streak_progress.broken");
        assert_ne!(again.id, first.id, "each break is its own event");
        assert_eq!(
            first.id,
            only_event(meaning(
                T,
                sk,
                Some(&streak("in_progress")),
                Some(&first_break),
                at()
            ))
            .id,
            "the same change always has the same id (redelivery)"
        );
        assert!(
            meaning(
                T,
                sk,
                Some(&streak("completed")),
                Some(&streak("in_progress")),
                at()
            )
            .is_none(),
            "only a healed break is a restore"
        );
        let window = |s: &str| json!({"id": "cp1", "challengeProgressStatus": s});
        let failed = only_event(meaning(
            T,
            "PROGRESS#c1#w",
            Some(&window("in_progress")),
            Some(&window("failed")),
            at(),
        ));
        assert_eq!(failed.event_type, "challenge_progress.failed");
        assert!(meaning(
            T,
            "AGG#p1#2026-12-01",
            None,
            Some(&json!({"id": "x"})),
            at()
        )
        .is_none());
        assert!(meaning(T, "LOG", None, Some(&json!({"id": "l1"})), at()).is_none());
    }

    #[test]
    fn rewards_are_events_when_created_only() {
        let reward = json!({"id": "r1", "milestoneId": "ms1", "rewarded": ["x"]});
        let e = only_event(meaning(T, "REWARD#ms1#k", None, Some(&reward), at()));
        assert_eq!(e.event_type, "reward_log.created");
        assert!(
            meaning(T, "REWARD#ms1#k", Some(&reward), Some(&reward), at()).is_none(),
            "a coupon PATCH"
        );
    }

    #[test]
    fn members_created_and_removed() {
        let member = json!({"id": "m1", "externalId": "user_1", "status": "live", "firstSeenAt": "2026-12-01T00:00:00.000Z",
                            "createdAt": "2026-12-01T00:00:00.000Z", "updatedAt": "2026-12-01T00:00:00.000Z"});
        let created = only_event(meaning(T, "MEMBER", None, Some(&member), at()));
        assert_eq!(created.event_type, "member.created");
        let body: Value = serde_json::from_str(&created.body).unwrap();
        assert_eq!(body["data"]["externalId"], "user_1");
        match meaning(T, "MEMBER", Some(&member), None, at()) {
            Some(Meaning::DeletedUnlessRenamed { member_id, event }) => {
                assert_eq!(
                    (member_id.as_str(), event.event_type),
                    ("m1", "member.deleted")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            meaning(T, "MEMBER", Some(&member), Some(&member), at()).is_none(),
            "an update"
        );
    }
}
