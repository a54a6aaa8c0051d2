//! Unit tests of `member`.
use super::*;

fn parse(json: &str) -> MemberInput {
    serde_json::from_str(json).unwrap()
}

#[test]
fn absent_null_and_values_are_distinguished() {
    let input = parse(r#"{"email": null, "firstName": "Ada"}"#);
    assert_eq!(input.email, Patch::Null);
    assert_eq!(input.first_name, Patch::Value("Ada".into()));
    assert_eq!(input.last_name, Patch::Absent);
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let err = serde_json::from_str::<MemberInput>(r#"{"externalID": "x"}"#).unwrap_err();
    assert!(err.to_string().contains("externalID"), "{err}");
}

#[test]
fn enums_accept_only_their_values() {
    for s in ["draft", "live", "paused"] {
        assert!(serde_json::from_str::<MemberInput>(&format!(r#"{{"status":"{s}"}}"#)).is_ok());
    }
    for d in ["mobile", "desktop", "tablet"] {
        assert!(serde_json::from_str::<MemberInput>(&format!(r#"{{"device":"{d}"}}"#)).is_ok());
    }
    for bad in [
        r#"{"status":"LIVE"}"#,
        r#"{"status":"active"}"#,
        r#"{"device":"tv"}"#,
    ] {
        assert!(serde_json::from_str::<MemberInput>(bad).is_err(), "{bad}");
    }
}

#[test]
fn create_requires_external_id_and_status() {
    let err = parse("{}").validate(WriteMode::Create).unwrap_err();
    let fields: Vec<_> = err.details().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["externalId", "status"]);
    assert!(parse(r#"{"externalId":"u1"}"#)
        .validate(WriteMode::Upsert)
        .is_ok());
    assert!(parse("{}").validate(WriteMode::Patch).is_ok());
    assert!(parse(r#"{"status":null}"#)
        .validate(WriteMode::Patch)
        .is_err());
    assert!(parse(r#"{"externalId":null}"#)
        .validate(WriteMode::Patch)
        .is_err());
}

#[test]
fn field_limits() {
    let ok = format!(
        r#"{{"externalId":"{}","firstName":"{}"}}"#,
        "a".repeat(256),
        "b".repeat(256)
    );
    assert!(parse(&ok).validate(WriteMode::Upsert).is_ok());
    let long_id = format!(r#"{{"externalId":"{}"}}"#, "a".repeat(257));
    assert_eq!(
        parse(&long_id)
            .validate(WriteMode::Upsert)
            .unwrap_err()
            .details()[0]
            .field,
        "externalId"
    );
    for field in ["firstName", "lastName", "displayName", "source"] {
        let bad = format!(r#"{{"externalId":"x","{field}":"{}"}}"#, "a".repeat(257));
        let err = parse(&bad).validate(WriteMode::Upsert).unwrap_err();
        assert_eq!(err.details()[0].field, field);
    }
    let bad = parse(
        r#"{"externalId":"","phoneNumber":"0791 123","country":"XX","timezone":"Nowhere","email":"nope"}"#,
    );
    let err = bad.validate(WriteMode::Upsert).unwrap_err();
    let fields: Vec<_> = err.details().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        ["externalId", "email", "phoneNumber", "timezone", "country"]
    );
}

#[test]
fn patch_applies_and_clears() {
    let now = time::now();
    let mut m = parse(r#"{"externalId":"u1","email":"a@b.co","status":"live"}"#).into_new_member(
        "id".into(),
        now,
        false,
    );
    assert_eq!(m.email.as_deref(), Some("a@b.co"));
    assert_eq!(m.last_seen_at, None);
    m.apply(parse(r#"{"email":null,"device":"mobile"}"#), now);
    assert_eq!(m.email, None);
    assert_eq!(m.device, Some(Device::Mobile));
    assert_eq!(m.external_id, "u1");
}

#[test]
fn track_user_phone_rules() {
    let t = |json: &str| {
        serde_json::from_str::<TrackUserInput>(json)
            .unwrap()
            .into_member_input()
    };
    assert!(t(r#"{"externalId":"u","phone":"+14155552671"}"#).is_ok());
    assert!(t(r#"{"externalId":"u","phone":"+1 415 555 2671"}"#).is_err());
    assert!(t(r#"{"externalId":"u","phone":"+123456789012345678901"}"#).is_err());
    let err = t(r#"{"displayName":"x"}"#).unwrap_err();
    assert!(err.public_message().contains("missing externalId"));
    let m = t(r#"{"externalId":"u","phone":"+14155552671"}"#).unwrap();
    assert_eq!(m.phone_number, Patch::Value("+14155552671".into()));
}
