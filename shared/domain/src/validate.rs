//! Field rules shared by every record (SPEC §2–3). Each returns `Err(message)`; callers attach the field name.

use crate::error::{ApiError, FieldError};

/// Length in characters (not bytes): the spec's limits are characters.
pub fn max_chars(value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n > max {
        Err(format!("must be at most {max} characters (got {n})"))
    } else {
        Ok(())
    }
}

/// An RFC 3339 instant at most `log::MAX_FUTURE` after `now` (clocks differ a little; logs and
/// events from the future do not happen).
pub fn instant_not_future(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) if t.with_timezone(&chrono::Utc) > now + crate::log::MAX_FUTURE => {
            Err("must not be more than 5 minutes in the future".into())
        }
        Ok(t) => Ok(t.with_timezone(&chrono::Utc)),
        Err(_) => Err("must be an RFC 3339 timestamp, e.g. 2026-11-24T09:15:00Z".into()),
    }
}

pub fn required_chars(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    max_chars(value, max)
}

/// E.164 as the seed defines it: `+`, then the country code and subscriber number as digits only,
/// no leading zero, at most 15 digits. Syntax only: a metadata-driven crate such as `phonenumber`
/// would add ~1 MB to every binary and reject numbers the seed's rule accepts.
pub fn e164(value: &str) -> Result<(), String> {
    const RULE: &str = "must be E.164: '+' then country code and number, digits only, at most 15 digits (e.g. +14155552671)";
    let Some(digits) = value.strip_prefix('+') else {
        return Err(RULE.into());
    };
    let ok = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(RULE.into())
    }
}

/// Syntactic address check: a dot-atom local part (≤ 64) `@` a dotted host name (labels ≤ 63,
/// letters, digits and inner hyphens), ≤ 320 in all as the seed allows. Quoted local parts and
/// IP literals are refused: no real sign-up form produces them. (`email_address` caps the domain
/// at 254, which would make the seed's 320-character limit unreachable.)
pub fn email(value: &str) -> Result<(), String> {
    max_chars(value, 320)?;
    const INVALID: &str = "must be a valid email address such as jane@example.com";
    let (local, domain) = value.rsplit_once('@').ok_or(INVALID)?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = (1..=64).contains(&local.len())
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(atext));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(INVALID.into())
    }
}

pub fn timezone(value: &str) -> Result<chrono_tz::Tz, String> {
    value
        .parse::<chrono_tz::Tz>()
        .map_err(|_| "must be an IANA time zone name such as Europe/Berlin".to_string())
}

/// ISO 3166-1 alpha-2 codes that are officially assigned (249 entries, as of 2024).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn country(value: &str) -> Result<(), String> {
    let known = value.len() == 2 && COUNTRIES.split(' ').any(|c| c == value);
    if known {
        Ok(())
    } else {
        Err("must be an assigned ISO 3166-1 alpha-2 code in upper case, e.g. NG, US, GB".into())
    }
}

/// Decodes a JSON object into `T`, naming the field of any type error or unknown field.
pub fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or_default();
            // serde_path_to_error's path already ends with the unknown field's name.
            let field = if path == "." { name.to_string() } else { path };
            return ApiError::Validation(vec![FieldError::new(field, "is not a known field")]);
        }
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::Validation(vec![FieldError::new(field, message)])
    })
}

pub const MAX_TAGS: usize = 50;
pub const MAX_METADATA_BYTES: usize = 8 * 1024;

pub fn tags(value: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    if value.len() > MAX_TAGS {
        return Err(format!(
            "must have at most {MAX_TAGS} keys (got {})",
            value.len()
        ));
    }
    for (k, v) in value {
        if k.is_empty() || k.chars().count() > 256 || v.chars().count() > 256 {
            return Err(format!(
                "tag '{k}': keys must be 1-256 characters and values at most 256"
            ));
        }
    }
    Ok(())
}

/// Nesting DynamoDB stores (a document attribute may nest 32 levels; `metadata` itself is one).
pub const MAX_METADATA_DEPTH: usize = 31;

pub fn metadata(value: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(format!(
            "must serialize to at most {MAX_METADATA_BYTES} bytes (got {size})"
        ));
    }
    storable_object(value, "", 1)
}

/// What DynamoDB can hold of a JSON document: numbers from 1E-130 to below 1E+126 in magnitude
/// (or zero), no empty object keys, at most `MAX_METADATA_DEPTH` levels. `path` names the place.
fn storable_object(
    object: &serde_json::Map<String, serde_json::Value>,
    path: &str,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_METADATA_DEPTH {
        return Err(format!(
            "nests deeper than {MAX_METADATA_DEPTH} levels (at '{path}')"
        ));
    }
    for (key, value) in object {
        if key.is_empty() {
            return Err(format!("has an empty key (in '{path}')"));
        }
        storable(
            value,
            &format!("{path}{}{key}", if path.is_empty() { "" } else { "." }),
            depth,
        )?;
    }
    Ok(())
}

fn storable(value: &serde_json::Value, path: &str, depth: usize) -> Result<(), String> {
    match value {
        serde_json::Value::Number(n) => {
            let magnitude = n.as_f64().map(f64::abs).unwrap_or(f64::INFINITY);
            if magnitude != 0.0 && !(1e-130..1e126).contains(&magnitude) {
                return Err(format!(
                    "'{path}': numbers must be 0 or between 1e-130 and 1e126 in magnitude (got {n})"
                ));
            }
            Ok(())
        }
        serde_json::Value::Object(o) => storable_object(o, path, depth + 1),
        serde_json::Value::Array(items) => {
            if depth + 1 > MAX_METADATA_DEPTH {
                return Err(format!(
                    "nests deeper than {MAX_METADATA_DEPTH} levels (at '{path}')"
                ));
            }
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| storable(v, &format!("{path}[{i}]"), depth + 1))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_table_from_seed_000() {
        for valid in ["+14155552671", "+447911123456", "+34612345678"] {
            assert!(e164(valid).is_ok(), "{valid} should be valid");
        }
        for invalid in ["(415) 555-2671", "07911 123456", "+34 612 345 678"] {
            assert!(e164(invalid).is_err(), "{invalid} should be invalid");
        }
    }

    #[test]
    fn e164_edges() {
        assert!(e164("+123456789012345").is_ok(), "15 digits is the maximum");
        assert!(e164("+1234567890123456").is_err(), "16 digits is too many");
        assert!(
            e164("+0123456").is_err(),
            "country codes never start with 0"
        );
        assert!(e164("+").is_err());
        assert!(e164("+1").is_err());
        assert!(e164("14155552671").is_err(), "the + is required");
        assert!(e164("+1415-555-2671").is_err());
        assert!(
            e164("+１４１５５５５２６７１").is_err(),
            "full-width digits are not digits"
        );
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(max_chars(&"a".repeat(256), 256).is_ok());
        assert!(max_chars(&"a".repeat(257), 256).is_err());
        assert!(
            max_chars(&"é".repeat(256), 256).is_ok(),
            "256 two-byte chars fit"
        );
        assert!(required_chars("", 256).is_err());
    }

    #[test]
    fn email_lengths_and_syntax() {
        // 64-character local part, 255-character domain of 63-character labels: 320 in all.
        let label = "b".repeat(63);
        let at_limit = format!("{}@{label}.{label}.{label}.{label}", "a".repeat(64));
        assert_eq!(at_limit.chars().count(), 320);
        assert!(
            email(&at_limit).is_ok(),
            "{}",
            email(&at_limit).unwrap_err()
        );
        let over = format!("{}@{label}.{label}.{label}.{label}", "a".repeat(65));
        assert_eq!(over.chars().count(), 321);
        assert!(email(&over).is_err());
        assert!(email("jane@example.com").is_ok());
        for bad in [
            "jane",
            "jane@",
            "@example.com",
            "jane@localhost",
            "ja ne@example.com",
            "jane..doe@example.com",
            ".jane@example.com",
            "jane@-example.com",
            "jane@example.123",
            "jane@exa_mple.com",
            "a@b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn countries_and_zones() {
        for ok in ["NG", "US", "GB", "DE"] {
            assert!(country(ok).is_ok());
        }
        for bad in ["ng", "XX", "USA", "", "U"] {
            assert!(country(bad).is_err(), "{bad}");
        }
        assert_eq!(COUNTRIES.split(' ').count(), 249);
        assert!(timezone("Europe/Berlin").is_ok());
        assert!(timezone("America/New_York").is_ok());
        assert!(timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn metadata_holds_only_what_dynamodb_stores() {
        let object = |v: serde_json::Value| v.as_object().unwrap().clone();
        for fine in [
            serde_json::json!({"x": 0, "y": -0.0, "z": 1e-130, "w": 9.99e125, "n": [1, {"a": "b"}], "s": ""}),
            serde_json::json!({"big": 18446744073709551615u64, "neg": -9223372036854775807i64}),
        ] {
            assert_eq!(metadata(&object(fine.clone())), Ok(()), "{fine}");
        }
        for (bad, says) in [
            (serde_json::json!({"x": 1e308}), "'x': numbers"),
            (serde_json::json!({"x": {"y": -1e-300}}), "'x.y': numbers"),
            (serde_json::json!({"x": [1, 1e126]}), "'x[1]': numbers"),
            (serde_json::json!({"": 1}), "empty key"),
            (serde_json::json!({"a": {"": 1}}), "empty key (in 'a')"),
        ] {
            let err = metadata(&object(bad.clone())).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        // 31 levels of objects inside metadata are stored; 32 are not. Arrays count too.
        let nested = |levels: usize, open: &str, close: &str| {
            let text = format!(
                "{{\"m\":{}1{}}}",
                open.repeat(levels - 1),
                close.repeat(levels - 1)
            );
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };
        assert_eq!(
            metadata(&object(nested(MAX_METADATA_DEPTH, "{\"a\":", "}"))),
            Ok(())
        );
        assert!(metadata(&object(nested(MAX_METADATA_DEPTH + 1, "{\"a\":", "}"))).is_err());
        assert_eq!(
            metadata(&object(nested(MAX_METADATA_DEPTH, "[", "]"))),
            Ok(())
        );
        assert!(metadata(&object(nested(MAX_METADATA_DEPTH + 1, "[", "]"))).is_err());
    }

    #[test]
    fn tags_and_metadata_limits() {
        let fifty: std::collections::BTreeMap<_, _> = (0..50)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(tags(&fifty).is_ok());
        let mut fifty_one = fifty.clone();
        fifty_one.insert("extra".into(), "v".into());
        assert!(tags(&fifty_one).is_err());

        let mut m = serde_json::Map::new();
        // {"k":"<s>"} is 8 bytes of framing.
        m.insert(
            "k".into(),
            serde_json::Value::String("x".repeat(8 * 1024 - 8)),
        );
        assert!(metadata(&m).is_ok());
        m.insert(
            "k".into(),
            serde_json::Value::String("x".repeat(8 * 1024 - 7)),
        );
        assert!(metadata(&m).is_err());
    }
}
