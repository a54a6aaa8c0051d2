//! The points ledger (SPEC §11): `points_log` entries — reward credits, admin credits and spends —
//! and the rules of their create body. A member's balance is the sum of its entries.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::amount::Amount;
use crate::error::{ApiError, FieldError};
use crate::log::{request_hash, Owner};
use crate::member::MemberInput;
use crate::time::{self, Timestamp};
use crate::validate;

/// The records' slug: routes, lists and the stream know entries by it.
pub const SLUG: &str = "points_log";

/// Largest magnitude of one entry.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// Decimal places an amount may have.
pub const MAX_DECIMALS: u32 = 6;

pub const MAX_REASON_CHARS: usize = 256;

/// The `reason` of the credit a reward writes.
pub const REWARD_REASON: &str = "reward";

/// A stored entry. Immutable once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsEntry {
    pub id: String,
    /// The member's id (never the externalId, which can change).
    pub owned_by_id: String,
    /// Positive: a credit; negative: a spend.
    pub amount: Amount,
    pub reason: Option<String>,
    /// The reward a credit comes from (reward credits only).
    #[serde(default)]
    pub reward_id: Option<String>,
    pub unique_identifier: String,
    /// When the entry took effect: the request's time, or the reward's for a reward credit.
    #[serde(with = "time::rfc3339_ms")]
    pub activity_at: Timestamp,
    /// SHA-256 of the canonical request body (empty for reward credits). Not in any answer.
    #[serde(default)]
    pub request_hash: String,
    #[serde(with = "time::rfc3339_ms")]
    pub created_at: Timestamp,
}

impl PointsEntry {
    /// The credit a reward of `points` writes once (its key is the reward's id).
    pub fn reward_credit(
        id: String,
        member_id: &str,
        reward_id: &str,
        points: Amount,
        at: Timestamp,
    ) -> Self {
        PointsEntry {
            id,
            owned_by_id: member_id.to_string(),
            amount: points,
            reason: Some(REWARD_REASON.to_string()),
            reward_id: Some(reward_id.to_string()),
            unique_identifier: format!("{REWARD_REASON}:{reward_id}"),
            activity_at: at,
            request_hash: String::new(),
            created_at: at,
        }
    }

    pub fn is_spend(&self) -> bool {
        self.amount.decimal().is_sign_negative()
    }

    pub fn to_record(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "ownedById": self.owned_by_id,
            "amount": self.amount,
            "reason": self.reason,
            "rewardId": self.reward_id,
            "uniqueIdentifier": self.unique_identifier,
            "activityAt": time::format(&self.activity_at),
            "createdAt": time::format(&self.created_at),
        })
    }
}

/// `POST /schema/points_log/record`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PointsInput {
    pub owned_by_id: Option<String>,
    pub owned_by: Option<MemberInput>,
    pub amount: Option<Amount>,
    pub reason: Option<String>,
    pub unique_identifier: Option<String>,
}

/// A validated entry request, before its member is looked up.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub owner: Owner,
    pub amount: Amount,
    pub reason: Option<String>,
    pub unique_identifier: String,
    pub request_hash: String,
}

/// Why an amount is refused, if it is.
fn amount_problem(amount: Amount) -> Option<String> {
    let d = amount.decimal();
    if d.is_zero() {
        return Some("must not be 0 (positive credits, negative spends)".into());
    }
    if d.abs() > Decimal::from(MAX_AMOUNT) {
        return Some(format!("must be from -{MAX_AMOUNT} to {MAX_AMOUNT}"));
    }
    if d.normalize().scale() > MAX_DECIMALS {
        return Some(format!("must have at most {MAX_DECIMALS} decimal places"));
    }
    None
}

impl PointsInput {
    /// Checks the rules that need no lookup (SPEC §11).
    pub fn validate(self, body: &Value) -> Result<NewEntry, ApiError> {
        let mut errors = Vec::new();
        let owner = Owner::from_fields(self.owned_by_id, self.owned_by, &mut errors);
        let amount = match self.amount {
            None => {
                errors.push(FieldError::new("amount", "is required"));
                None
            }
            Some(a) => match amount_problem(a) {
                Some(problem) => {
                    errors.push(FieldError::new("amount", problem));
                    None
                }
                None => Some(a),
            },
        };
        if let Some(reason) = &self.reason {
            if let Err(m) = validate::max_chars(reason, MAX_REASON_CHARS) {
                errors.push(FieldError::new("reason", m));
            }
        }
        let unique_identifier = match self.unique_identifier {
            None => {
                errors.push(FieldError::new(
                    "uniqueIdentifier",
                    "is required: it makes a retried credit or spend count once",
                ));
                None
            }
            Some(u) => match validate::required_chars(&u, 256) {
                Ok(()) => Some(u),
                Err(m) => {
                    errors.push(FieldError::new("uniqueIdentifier", m));
                    None
                }
            },
        };
        match (owner, amount, unique_identifier) {
            (Some(owner), Some(amount), Some(unique_identifier)) if errors.is_empty() => {
                Ok(NewEntry {
                    owner,
                    amount,
                    reason: self.reason,
                    unique_identifier,
                    request_hash: request_hash(body),
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(body: Value) -> Vec<String> {
        let input: PointsInput = match validate::decode(body.clone()) {
            Ok(i) => i,
            Err(e) => return e.details().iter().map(|d| d.field.clone()).collect(),
        };
        match input.validate(&body) {
            Ok(_) => Vec::new(),
            Err(e) => e.details().iter().map(|d| d.field.clone()).collect(),
        }
    }

    #[test]
    fn amounts_are_non_zero_bounded_exact_decimals() {
        let body = |amount: Value| serde_json::json!({"ownedById": "m", "amount": amount, "uniqueIdentifier": "u"});
        for ok in [
            serde_json::json!(1),
            serde_json::json!(-250),
            serde_json::json!(0.000001),
            serde_json::json!(1_000_000_000_000i64),
            serde_json::json!(-1_000_000_000_000i64),
            serde_json::json!(12.5),
        ] {
            assert!(problems(body(ok.clone())).is_empty(), "{ok}");
        }
        for bad in [
            serde_json::json!(0),
            serde_json::json!(0.0000001),
            serde_json::json!(1_000_000_000_001i64),
            serde_json::json!(-1e13),
            serde_json::json!("5"),
        ] {
            assert_eq!(problems(body(bad.clone())), ["amount"], "{bad}");
        }
    }

    #[test]
    fn owner_amount_and_unique_identifier_are_required_and_reason_is_bounded() {
        assert_eq!(
            problems(serde_json::json!({})),
            ["ownedById", "amount", "uniqueIdentifier"]
        );
        let long = "r".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            problems(
                serde_json::json!({"ownedById": "m", "amount": 1, "uniqueIdentifier": "u", "reason": long})
            ),
            ["reason"]
        );
        assert_eq!(
            problems(serde_json::json!({"ownedById": "m", "amount": 1, "uniqueIdentifier": ""})),
            ["uniqueIdentifier"]
        );
    }
}
