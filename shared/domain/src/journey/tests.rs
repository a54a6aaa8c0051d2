//! Unit tests of `journey`.
use super::*;
use chrono::TimeZone;
use rust_decimal::Decimal;

fn now() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .unwrap()
}

fn check(body: Value) -> Result<NewEvent, ApiError> {
    let input: EventInput = validate::decode(body.clone())?;
    input.validate(&body, now())
}

fn fields(err: ApiError) -> Vec<String> {
    err.details().iter().map(|d| d.field.clone()).collect()
}

#[test]
fn a_valid_event_and_its_defaults() {
    let event = check(json!({"externalId": "u1", "eventType": "purchase"})).unwrap();
    assert_eq!(event.occurred_at, now(), "occurredAt defaults to now");
    assert_eq!(
        (event.event_id, event.category, event.properties),
        (None, None, None)
    );
    let full = check(json!({"eventId": "evt-1", "externalId": "u1", "eventType": "purchase", "category": "commerce", "properties": {"amount": 12.5}, "occurredAt": "2026-11-24T11:00:00+01:00"})).unwrap();
    assert_eq!(full.occurred_at, now() - chrono::Duration::hours(2));
    let stored = full.clone().into_event("evt-1".into(), "m-1".into(), now());
    assert_eq!(stored.timeline_key(), "2026-11-24T10:00:00.000Z#evt-1");
    let answer = stored.to_json();
    assert_eq!(answer["eventId"], "evt-1");
    assert_eq!(answer["properties"], json!({"amount": 12.5}));
    assert_eq!(answer["occurredAt"], "2026-11-24T10:00:00.000Z");
}

#[test]
fn every_rule_names_its_field() {
    let cases = [
        (json!({"eventType": "x"}), "externalId"),
        (json!({"externalId": "", "eventType": "x"}), "externalId"),
        (
            json!({"externalId": "u".repeat(257), "eventType": "x"}),
            "externalId",
        ),
        (json!({"externalId": "u"}), "eventType"),
        (
            json!({"externalId": "u", "eventType": "x".repeat(101)}),
            "eventType",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "category": ""}),
            "category",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "eventId": ""}),
            "eventId",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "eventId": "e".repeat(257)}),
            "eventId",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "occurredAt": "yesterday"}),
            "occurredAt",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "occurredAt": "2026-11-24T12:06:00Z"}),
            "occurredAt",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "properties": {"big": "x".repeat(9000)}}),
            "properties",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "properties": [1]}),
            "properties",
        ),
        (
            json!({"externalId": "u", "eventType": "x", "points": 1}),
            "points",
        ),
        (json!({"externalId": 7, "eventType": "x"}), "externalId"),
    ];
    for (body, field) in cases {
        let err = check(body.clone()).expect_err(&body.to_string());
        assert_eq!(err.status(), 400);
        assert_eq!(fields(err), vec![field.to_string()], "{body}");
    }
    // Five minutes ahead is a clock's difference, not the future.
    assert!(check(
        json!({"externalId": "u", "eventType": "x", "occurredAt": "2026-11-24T12:05:00Z"})
    )
    .is_ok());
    let both = check(json!({"eventType": ""})).unwrap_err();
    assert_eq!(fields(both), vec!["externalId", "eventType"], "all at once");
}

#[test]
fn a_batch_holds_1_to_100_events() {
    let events = |n: usize| json!({"events": vec![json!({}); n]});
    assert_eq!(batch_items(events(1)).unwrap().len(), 1);
    assert_eq!(batch_items(events(100)).unwrap().len(), 100);
    for (body, field) in [
        (events(0), "events"),
        (events(101), "events"),
        (json!({"events": {}}), "events"),
        (json!({}), "events"),
        (json!([]), "body"),
        (json!({"events": [], "extra": 1}), "extra"),
    ] {
        let err = batch_items(body.clone()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(fields(err), vec![field.to_string()], "{body}");
    }
}

fn candidate(id: &str, age_days: i64, in_progress: Option<(i64, i64)>, joined: bool) -> Candidate {
    Candidate {
        program_id: id.into(),
        program_type: "streak",
        name: format!("program {id}"),
        created_at: now() - chrono::Duration::days(age_days),
        in_progress: in_progress.map(|(v, t)| (Decimal::from(v), Decimal::from(t))),
        joined,
    }
}

#[test]
fn recommendations_put_the_closest_first_then_the_newest_not_joined() {
    let picks = recommend(&[
        candidate("far", 1, Some((1, 10)), true),
        candidate("close", 1, Some((4, 5)), true),
        candidate("done", 1, None, true),
        candidate("old-new", 30, None, false),
        candidate("new-new", 2, None, false),
        candidate("half-big", 1, Some((5, 10)), true),
        candidate("half-small", 1, Some((1, 2)), true),
    ]);
    let order: Vec<&str> = picks
        .iter()
        .map(|p| p["programId"].as_str().unwrap())
        .collect();
    // 80 %, then 50 % with 1 left before 50 % with 5 left, then 10 %; then not joined, newest
    // first; at most five; a finished run is not recommended.
    assert_eq!(order, ["close", "half-small", "half-big", "far", "new-new"]);
    let priorities: Vec<u64> = picks
        .iter()
        .map(|p| p["priority"].as_u64().unwrap())
        .collect();
    assert_eq!(priorities, [1, 2, 3, 4, 5]);
    assert_eq!(picks[0]["reason"], "close_to_completion");
    assert_eq!(
        picks[0]["progress"],
        json!({"current": 4, "target": 5, "remaining": 1})
    );
    assert_eq!(picks[0]["name"], "program close");
    assert_eq!(picks[4]["reason"], "not_joined");
    assert_eq!(picks[4]["progress"], Value::Null);
    assert!(recommend(&[]).is_empty());
    assert!(recommend(&[candidate("done", 1, None, true)]).is_empty());
}
