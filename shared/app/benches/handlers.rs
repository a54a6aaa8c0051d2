//! Handler overhead (issues 5, 19): what a function does per request besides the store call — parse
//! the API Gateway event into a request, authorize from the authorizer's context, parse and
//! validate the body, build the domain record, serialize the answer — for the three hot routes.
//! `cargo bench -p app --bench handlers`; results in BENCHMARKS.md.

use std::hint::black_box;

use app::http::{self, Access};
use criterion::{criterion_group, criterion_main, Criterion};
use domain::log::{ActivityLog, LogInput, LogKind};
use domain::member::{MemberInput, TrackUserInput, WriteMode};

fn event(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(relative);
    std::fs::read_to_string(path).unwrap()
}

const MEMBER: &str = r#"{"externalId":"user_12345","firstName":"Jane","lastName":"Doe","displayName":"Jane Doe","email":"jane@example.com","phoneNumber":"+14155552671","status":"live","timezone":"Europe/Berlin","country":"NG","device":"mobile","source":"referral","tags":{"plan":"premium","cohort":"2025-Q1"},"metadata":{"signupDate":"2025-01-15"}}"#;

/// The sample event with `body` as its body, as the runtime receives it.
fn with_body(relative: &str, body: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(&event(relative)).unwrap();
    value["body"] = body.into();
    value.to_string()
}

fn handlers(c: &mut Criterion) {
    let now = domain::time::now();
    let member_event = with_body("members/create.json", MEMBER);
    c.bench_function("member create", |b| {
        b.iter(|| {
            let req = http::Request::parse(black_box(&member_event)).unwrap();
            let (_tenant, _role) = http::authorize(&req, Access::AdminOnly).unwrap();
            let input: MemberInput = http::json_body(&req).unwrap();
            input.validate(WriteMode::Create).unwrap();
            let member =
                input.into_new_member("01a20b5c-26f3-75fa-a0d6-27c5f10ba6b6".into(), now, false);
            black_box(http::success(201, member.record(now)))
        })
    });

    let track_event = event("track-user/post.json");
    c.bench_function("track-user", |b| {
        b.iter(|| {
            let req = http::Request::parse(black_box(&track_event)).unwrap();
            let (tenant, _role) = http::authorize(&req, Access::PublicOrAdmin).unwrap();
            let input: TrackUserInput = http::json_body(&req).unwrap();
            let input = input.into_member_input().unwrap();
            input.validate(WriteMode::Upsert).unwrap();
            let member =
                input.into_new_member("01a20b5c-26f3-75fa-a0d6-27c5f10ba6b6".into(), now, true);
            black_box(http::success(200, member.profile(&tenant, now)))
        })
    });

    let log_body = format!(
        r#"{{"streakId":"01a20be0-76a3-7257-9eb5-9b24763158e8","ownedById":"user_12345","activityAt":"{}","activityId":"made_a_purchase","uniqueIdentifier":"order-1001","activityValue":12.5}}"#,
        domain::time::format(&now)
    );
    let log_event = with_body("logs/streak-create.json", &log_body);
    c.bench_function("streak log", |b| {
        b.iter(|| {
            let req = http::Request::parse(black_box(&log_event)).unwrap();
            let (_tenant, _role) = http::authorize(&req, Access::AdminOnly).unwrap();
            let body = http::json_object(&req).unwrap();
            let input: LogInput = domain::validate::decode(body.clone()).unwrap();
            let new = input.validate(LogKind::Streak, &body, now).unwrap();
            let log = ActivityLog {
                id: "01a20be0-77cd-7346-8043-8de708220f99".into(),
                kind: LogKind::Streak,
                program_id: new.program_id,
                owned_by_id: "01a20be0-7634-727c-bf19-0d670d17a72e".into(),
                activity_at: new.activity_at,
                activity_id: new.activity_id,
                unique_identifier: new.unique_identifier.unwrap_or_default(),
                activity_value: new.activity_value,
                counts_toward_progress: true,
                request_hash: new.request_hash,
                created_at: now,
                updated_at: now,
                program_version: None,
            };
            black_box(http::success(201, log.to_record()))
        })
    });
}

criterion_group!(benches, handlers);
criterion_main!(benches);
