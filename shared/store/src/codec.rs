//! Items as stored: the attribute maps records become (the key attributes added on write,
//! ignored on read), and the entries of a period item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use domain::api_keys::KeyRecord;
use domain::member::MemberInput;
use domain::progress::CountedLog;
use domain::time::{self, Timestamp};

use super::error::StoreError;
use super::layout::{account_pk, key_pk, ACCOUNTS_LIST_PK, ACCOUNT_SK, KEY_SK};
use super::*;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Other(format!("encode item: {e}")))
}

/// The counted logs a period item holds (`L#{logId}` = `{activityAt}|{value}`).
pub(super) fn period_logs(item: Item) -> Result<Vec<CountedLog>, StoreError> {
    let mut logs = Vec::new();
    for (name, value) in item {
        let (Some(id), AttributeValue::S(v)) = (name.strip_prefix("L#"), value) else {
            continue;
        };
        let parsed = v.split_once('|').and_then(|(at, amount)| {
            let at = chrono::DateTime::parse_from_rfc3339(at)
                .ok()?
                .with_timezone(&chrono::Utc);
            Some((at, amount.parse::<rust_decimal::Decimal>().ok()?))
        });
        let (activity_at, value) =
            parsed.ok_or_else(|| StoreError::Other(format!("bad period entry {id}")))?;
        logs.push(CountedLog {
            id: id.to_string(),
            activity_at,
            value,
        });
    }
    Ok(logs)
}

pub(super) fn from_items<T: for<'de> Deserialize<'de>>(
    items: Vec<Item>,
) -> Result<Vec<T>, StoreError> {
    items.into_iter().map(from_item).collect()
}

pub(super) fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(format!("decode item: {e}")))
}

/// The key attributes an item is written with: its table key, and the index keys of the lists
/// it is in. Records are read straight from items; these attributes are ignored on read.
#[derive(Serialize)]
pub(super) struct Keys {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
}

impl Keys {
    pub(super) fn table(pk: String, sk: impl Into<String>) -> Self {
        Keys {
            pk,
            sk: sk.into(),
            gsi1pk: None,
            gsi1sk: None,
            gsi2pk: None,
            gsi2sk: None,
        }
    }

    /// Listed in GSI1 (a tenant's list of one kind, in id order).
    pub(super) fn listed(mut self, pk: String, sk: String) -> Self {
        (self.gsi1pk, self.gsi1sk) = (Some(pk), Some(sk));
        self
    }

    /// Listed in GSI2 (a member's activity of one kind).
    pub(super) fn member_listed(mut self, pk: String, sk: String) -> Self {
        (self.gsi2pk, self.gsi2sk) = (Some(pk), Some(sk));
        self
    }
}

/// A record as an item: its fields and its key attributes.
pub(super) fn stored<T: Serialize>(keys: Keys, record: &T) -> Result<Item, StoreError> {
    #[derive(Serialize)]
    struct Stored<'a, T> {
        #[serde(flatten)]
        keys: Keys,
        #[serde(flatten)]
        record: &'a T,
    }
    to_item(&Stored { keys, record })
}

pub(super) fn account_item(account: &Account) -> Result<Item, StoreError> {
    stored(
        Keys::table(account_pk(&account.id), ACCOUNT_SK)
            .listed(ACCOUNTS_LIST_PK.into(), account.id.clone()),
        account,
    )
}

pub(super) fn key_item(key: &KeyRecord) -> Result<Item, StoreError> {
    stored(Keys::table(key_pk(&key.api_key), KEY_SK), key)
}

/// Condition that a member item still has the revision read (`:rev`); items written before
/// revisions existed have none.
pub(super) fn unchanged_since(rev: u64) -> &'static str {
    if rev == 0 {
        "attribute_not_exists(rev) OR rev = :rev"
    } else {
        "rev = :rev"
    }
}

/// An UpdateItem expression: SET what `input` sets, REMOVE what it clears, and the timestamps.
pub(super) struct MemberUpdate {
    pub(super) expression: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
}

pub(super) fn member_update(
    input: &MemberInput,
    now: Timestamp,
    seen: bool,
) -> Result<MemberUpdate, StoreError> {
    let mut names = HashMap::from([("#updatedAt".to_string(), "updatedAt".to_string())]);
    let mut values = HashMap::from([(":now".to_string(), s(time::format(&now)))]);
    let mut sets = vec![
        "#updatedAt = :now".to_string(),
        "#rev = if_not_exists(#rev, :zero) + :one".to_string(),
    ];
    names.insert("#rev".to_string(), "rev".to_string());
    values.insert(":zero".to_string(), AttributeValue::N("0".into()));
    values.insert(":one".to_string(), AttributeValue::N("1".into()));
    let mut removes = Vec::new();
    if seen {
        names.insert("#lastSeenAt".to_string(), "lastSeenAt".to_string());
        sets.push("#lastSeenAt = :now".to_string());
    }
    for (i, (name, value)) in input.changes().into_iter().enumerate() {
        let placeholder = format!("#f{i}");
        names.insert(placeholder.clone(), name.to_string());
        match value {
            Some(v) => {
                let av = serde_dynamo::to_attribute_value(v)
                    .map_err(|e| StoreError::Other(format!("encode {name}: {e}")))?;
                values.insert(format!(":v{i}"), av);
                sets.push(format!("{placeholder} = :v{i}"));
            }
            None => removes.push(placeholder),
        }
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    Ok(MemberUpdate {
        expression,
        names,
        values,
    })
}

#[cfg(test)]
mod tests {
    use domain::amount::Amount;

    #[test]
    fn amounts_are_exact_dynamodb_numbers() {
        let a: Amount = serde_json::from_str("0.1").unwrap();
        let av: aws_sdk_dynamodb::types::AttributeValue =
            serde_dynamo::to_attribute_value(a).unwrap();
        assert_eq!(av, aws_sdk_dynamodb::types::AttributeValue::N("0.1".into()));
        let back: Amount = serde_dynamo::from_attribute_value(av).unwrap();
        assert_eq!(back, a);
    }
}
