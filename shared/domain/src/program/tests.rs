//! Unit tests of `program`.
use super::*;

fn input(json: &str) -> ProgramInput {
    serde_json::from_str(json).unwrap()
}

fn create(kind: ProgramKind, json: &str) -> Result<Program, ApiError> {
    input(json).apply(kind, None, "p1".into(), time::now())
}

fn fields(err: ApiError) -> Vec<String> {
    err.details().iter().map(|d| d.field.clone()).collect()
}

#[test]
fn streak_defaults_and_rules() {
    let s = create(ProgramKind::Streak, r#"{"name":"Daily buyer","status":"live","completionTargetValue":7,"aggregationTargetValue":1}"#).unwrap();
    assert_eq!(s.aggregation_method, Some(AggregationMethod::Sum));
    assert_eq!(s.aggregation_period, Some(PeriodKind::Daily));
    assert_eq!(s.timezone.as_deref(), Some("UTC"));
    let record = s.to_record();
    assert!(record.get("startAt").is_none() && record.get("milestoneTargetValue").is_none());
    assert_eq!(record["completionTargetValue"], 7);

    let err = create(ProgramKind::Streak, r#"{"name":"x","status":"live","completionTargetValue":1.5,"aggregationTargetValue":0,"timezone":"Nowhere"}"#).unwrap_err();
    assert_eq!(
        fields(err),
        [
            "aggregationTargetValue",
            "completionTargetValue",
            "timezone"
        ]
    );
    let err = create(
        ProgramKind::Streak,
        r#"{"name":"x","status":"live","completionTargetValue":0,"aggregationTargetValue":1}"#,
    )
    .unwrap_err();
    assert_eq!(fields(err), ["completionTargetValue"]);
    let err = create(ProgramKind::Streak, "{}").unwrap_err();
    assert_eq!(
        fields(err),
        [
            "aggregationTargetValue",
            "completionTargetValue",
            "name",
            "status"
        ]
    );
    let err = create(ProgramKind::Streak, r#"{"name":"x","status":"live","completionTargetValue":1,"aggregationTargetValue":1,"startAt":"2026-01-01T00:00:00Z"}"#).unwrap_err();
    assert_eq!(fields(err), ["startAt"], "a streak has no campaign bounds");
}

#[test]
fn challenge_rules() {
    let ok = r#"{"name":"Spend 100","status":"live","completionTargetValue":100.5,"aggregationPeriod":"weekly","startAt":"2026-11-01T00:00:00Z","endAt":"2026-12-01T00:00:00Z"}"#;
    let c = create(ProgramKind::Challenge, ok).unwrap();
    assert_eq!(c.to_record()["completionTargetValue"], 100.5);
    assert!(c.to_record().get("aggregationTargetValue").is_none());
    let err = create(
        ProgramKind::Challenge,
        r#"{"name":"x","status":"live","completionTargetValue":5,"aggregationTargetValue":1}"#,
    )
    .unwrap_err();
    assert_eq!(fields(err), ["aggregationTargetValue"]);
    let err = create(ProgramKind::Challenge, r#"{"name":"x","status":"live","completionTargetValue":5,"startAt":"2026-12-01T00:00:00Z","endAt":"2026-11-01T00:00:00Z"}"#).unwrap_err();
    assert_eq!(fields(err), ["endAt"]);
    let err = create(
        ProgramKind::Challenge,
        r#"{"name":"x","status":"live","completionTargetValue":-1,"startAt":"yesterday"}"#,
    )
    .unwrap_err();
    assert_eq!(fields(err), ["completionTargetValue", "startAt"]);
}

#[test]
fn milestone_rules_and_enums() {
    let m = create(ProgramKind::Milestone, r#"{"name":"3 days","status":"live","linkedSchemaSlug":"streak","linkedSchemaRecordId":"s1","milestoneTargetValue":3}"#).unwrap();
    assert_eq!(m.reward_points, Some(Amount::default()));
    let err = create(ProgramKind::Milestone, r#"{"name":"x","status":"live","linkedSchemaSlug":"milestone","linkedSchemaRecordId":"s1","milestoneTargetValue":0,"rewardPoints":-1}"#).unwrap_err();
    assert_eq!(
        fields(err),
        ["linkedSchemaSlug", "milestoneTargetValue", "rewardPoints"]
    );
    for bad in [
        r#"{"status":"active"}"#,
        r#"{"aggregationMethod":"avg"}"#,
        r#"{"aggregationPeriod":"yearly"}"#,
        r#"{"linkedSchemaSlug":"badge"}"#,
    ] {
        assert!(serde_json::from_str::<ProgramInput>(bad).is_err(), "{bad}");
    }
}

#[test]
fn patches_keep_rules_on_the_result() {
    let s = create(
        ProgramKind::Streak,
        r#"{"name":"x","status":"draft","completionTargetValue":3,"aggregationTargetValue":1}"#,
    )
    .unwrap();
    let live = input(r#"{"status":"live","timezone":"Europe/Berlin"}"#)
        .apply(ProgramKind::Streak, Some(&s), String::new(), time::now())
        .unwrap();
    assert_eq!(
        (live.status, live.timezone.as_deref(), live.id.as_str()),
        (ProgramStatus::Live, Some("Europe/Berlin"), "p1")
    );
    let reset = input(r#"{"timezone":null}"#)
        .apply(ProgramKind::Streak, Some(&live), String::new(), time::now())
        .unwrap();
    assert_eq!(
        reset.timezone.as_deref(),
        Some("UTC"),
        "null restores the default"
    );
    let err = input(r#"{"name":null,"completionTargetValue":null}"#)
        .apply(ProgramKind::Streak, Some(&s), String::new(), time::now())
        .unwrap_err();
    assert_eq!(fields(err), ["completionTargetValue", "name"]);
}

#[test]
fn the_clocks_fields_of_a_streak_default_and_are_checked() {
    let base = r#""name":"x","status":"live","completionTargetValue":7,"aggregationTargetValue":1"#;
    let s = create(ProgramKind::Streak, &format!("{{{base}}}")).unwrap();
    let record = s.to_record();
    assert_eq!(
        (
            &record["atRiskLeadMinutes"],
            &record["maxFreezes"],
            &record["freezeEarnEveryPeriods"]
        ),
        (&serde_json::json!(240), &serde_json::json!(0), &Value::Null)
    );
    let s = create(
        ProgramKind::Streak,
        &format!(r#"{{{base},"atRiskLeadMinutes":0,"maxFreezes":10,"freezeEarnEveryPeriods":7}}"#),
    )
    .unwrap();
    assert_eq!(
        (s.at_risk_lead(), s.max_freezes, s.freeze_earn_every_periods),
        (0, Some(10), Some(7))
    );
    for (bad, field) in [
        (r#""atRiskLeadMinutes":1441"#, "atRiskLeadMinutes"),
        (r#""atRiskLeadMinutes":-1"#, "atRiskLeadMinutes"),
        (r#""atRiskLeadMinutes":1.5"#, "atRiskLeadMinutes"),
        (r#""maxFreezes":11"#, "maxFreezes"),
        (r#""freezeEarnEveryPeriods":0"#, "freezeEarnEveryPeriods"),
        (r#""freezeEarnEveryPeriods":2.5"#, "freezeEarnEveryPeriods"),
    ] {
        let err = create(ProgramKind::Streak, &format!("{{{base},{bad}}}")).unwrap_err();
        assert_eq!(fields(err), [field], "{bad}");
    }
    // Not fields of a challenge.
    let err = create(
        ProgramKind::Challenge,
        r#"{"name":"x","status":"live","completionTargetValue":7,"maxFreezes":1}"#,
    )
    .unwrap_err();
    assert_eq!(fields(err), ["maxFreezes"]);
    // `null` restores a default.
    let patched = input(r#"{"atRiskLeadMinutes":null}"#)
        .apply(ProgramKind::Streak, Some(&s), s.id.clone(), time::now())
        .unwrap();
    assert_eq!(patched.at_risk_lead(), 240);
}
