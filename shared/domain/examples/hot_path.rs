//! Times the request work that does not touch the store (parse + validate + build + serialize of a
//! member create and a track-user call), to compare release profiles:
//! `CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo run --release -p domain --example hot_path`.

use std::hint::black_box;
use std::time::Instant;

use domain::member::{MemberInput, TrackUserInput, WriteMode};
use domain::tenant::{Environment, Tenant};

const MEMBER: &str = r#"{"externalId":"user_12345","firstName":"Jane","lastName":"Doe","displayName":"Jane Doe",
 "email":"jane@example.com","phoneNumber":"+14155552671","status":"live","timezone":"Europe/Berlin","country":"NG",
 "device":"mobile","source":"referral","tags":{"plan":"premium","cohort":"2025-Q1"},"metadata":{"signupDate":"2025-01-15"}}"#;
const TRACK: &str = r#"{"externalId":"user_12345","displayName":"Jane Doe","email":"jane@example.com","country":"NG",
 "device":"mobile","source":"referral","tags":{"plan":"premium","cohort":"2025-Q1"},"metadata":{"signupDate":"2025-01-15"}}"#;

fn main() {
    let tenant = Tenant::new("acc", Environment::Live);
    let now = domain::time::now();
    let rounds = 200_000u32;
    for (name, body) in [("member create", MEMBER), ("track-user", TRACK)] {
        let started = Instant::now();
        for _ in 0..rounds {
            let value: serde_json::Value = serde_json::from_str(black_box(body)).unwrap();
            let input: MemberInput = if name == "track-user" {
                serde_json::from_value::<TrackUserInput>(value)
                    .unwrap()
                    .into_member_input()
                    .unwrap()
            } else {
                let input: MemberInput = serde_json::from_value(value).unwrap();
                input.validate(WriteMode::Create).unwrap();
                input
            };
            let member =
                input.into_new_member("01a20b5c-26f3-75fa-a0d6-27c5f10ba6b6".into(), now, true);
            let out = if name == "track-user" {
                member.to_profile(&tenant, now)
            } else {
                member.to_record(now)
            };
            black_box(out.to_string());
        }
        let per = started.elapsed().as_nanos() as f64 / f64::from(rounds);
        println!("{name:>14}: {:.2} µs per request", per / 1000.0);
    }
}
