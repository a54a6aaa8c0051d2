//! `Amount`: an exact decimal that travels as a JSON (and DynamoDB) number.
//!
//! Read through the number's shortest decimal representation, so `0.1` is exactly 0.1 and
//! 0.1 + 0.2 == 0.3 (SPEC §2). Limited to 15 significant digits, what a JSON number carries exactly.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub Decimal);

/// Largest magnitude accepted: beyond it a JSON number is no longer exact.
pub const MAX_ABS: i64 = 999_999_999_999_999;

impl Amount {
    pub fn decimal(self) -> Decimal {
        self.0
    }

    pub fn is_integer(self) -> bool {
        self.0.fract().is_zero()
    }
}

impl From<Decimal> for Amount {
    fn from(d: Decimal) -> Self {
        Amount(d.normalize())
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0.normalize();
        match (d.scale(), d.to_i64()) {
            (0, Some(i)) => s.serialize_i64(i),
            _ => s.serialize_f64(d.to_f64().unwrap_or(f64::NAN)),
        }
    }
}

/// `#[serde(serialize_with = "crate::amount::as_number")]` for a plain `Decimal` field.
pub fn as_number<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    Amount::from(*d).serialize(s)
}

fn parse(text: &str) -> Result<Amount, String> {
    let d = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| format!("{text} is not a decimal number"))?;
    if d.abs() > Decimal::from(MAX_ABS) {
        return Err(format!("{text} is larger than {MAX_ABS}"));
    }
    Ok(Amount::from(d))
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = Amount;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
        parse(&v.to_string()).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
        parse(&v.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
        if !v.is_finite() {
            return Err(E::custom("a finite number is required"));
        }
        // Rust prints the shortest representation that reads back as the same f64: "0.1".
        parse(&v.to_string()).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AmountVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(json: &str) -> Amount {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn json_numbers_are_exact_decimals() {
        assert_eq!(amount("0.1").0 + amount("0.2").0, amount("0.3").0);
        assert_eq!(amount("3").0, Decimal::from(3));
        assert_eq!(amount("1e2").0, Decimal::from(100));
        assert_eq!(serde_json::to_string(&amount("0.30")).unwrap(), "0.3");
        assert_eq!(serde_json::to_string(&amount("7")).unwrap(), "7");
        assert!(
            serde_json::from_str::<Amount>("\"1\"").is_err(),
            "strings are not numbers"
        );
        assert!(serde_json::from_str::<Amount>("1e16").is_err());
        assert!(amount("2").is_integer() && !amount("2.5").is_integer());
    }
}
