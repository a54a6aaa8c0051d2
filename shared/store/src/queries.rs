//! Reads shared by every kind of record: index pages (keys, then the items), ranges of a
//! partition, and the tenant's and members' lists.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use serde::Deserialize;

use domain::cursor::Position;
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};

use super::codec::{from_item, from_items, s};
use super::error::{applied, classify, StoreError};
use super::layout::{
    list_partitions, member_activity_pk, member_id_pk, sharded_list_pk, Index, GSI1,
    MEMBER_ACTIVITY_SLUGS,
};
use super::*;

/// A list filter on one attribute.
#[derive(Debug, Clone)]
pub enum Condition {
    Equals(&'static str, AttributeValue),
    AtLeast(&'static str, AttributeValue),
    Below(&'static str, AttributeValue),
}

impl Condition {
    pub fn equals(attr: &'static str, value: impl Into<String>) -> Self {
        Condition::Equals(attr, s(value))
    }

    pub fn at_least(attr: &'static str, value: impl Into<String>) -> Self {
        Condition::AtLeast(attr, s(value))
    }

    pub fn below(attr: &'static str, value: impl Into<String>) -> Self {
        Condition::Below(attr, s(value))
    }
}

/// The string attributes of an index key (a page's end, or an entry): a cursor's position.
pub(super) fn position_of(key: &Item) -> Position {
    key.iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(v) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

impl Index {
    /// The start key of a page from a cursor's position. A position resumes only a query of
    /// this index partition, and holds nothing but the keys a page ends on: anything else (a
    /// cursor forged with a leaked secret, say) is `BadCursor`, never a request DynamoDB refuses.
    pub(super) fn start_key(
        self,
        index_pk: &str,
        start: Option<Position>,
    ) -> Result<Option<Item>, StoreError> {
        let Some(position) = start else {
            return Ok(None);
        };
        let names = ["PK", "SK", self.pk_attribute(), self.sk_attribute()];
        let fits = position.len() == names.len()
            && names.iter().all(|n| {
                position
                    .get(*n)
                    .is_some_and(|v| !v.is_empty() && v.len() <= 1024)
            })
            && position.get(self.pk_attribute()).map(String::as_str) == Some(index_pk);
        if !fits {
            return Err(StoreError::BadCursor);
        }
        Ok(Some(position.into_iter().map(|(k, v)| (k, s(v))).collect()))
    }
}

impl Store {
    /// One page of an index partition, newest first (index sort keys are UUIDv7 ids), keeping
    /// the items that satisfy every condition, at most `limit` long: the items themselves, read
    /// by key after the index (which holds only keys and the attributes filters test).
    pub(super) async fn query_index(
        &self,
        index: Index,
        index_pk: String,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Item>, Option<Position>), StoreError> {
        let (entries, next) = self
            .query_index_entries(index, index_pk, conditions, limit, start)
            .await?;
        Ok((self.items_of(entries).await?, next))
    }

    /// The items that index entries point to, in the entries' order, eventually consistent like
    /// the index itself (an item deleted meanwhile is left out).
    pub(super) async fn items_of(&self, entries: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<(String, String)> = entries.iter().filter_map(key_of).collect();
        Ok(self
            .items_by_key(&keys, false)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Items by (PK, SK), in the order of `keys`, each `None` if absent: BatchGetItem, 100 keys a
    /// call, retried until every key is processed; `consistent` for strongly consistent reads.
    pub(super) async fn items_by_key(
        &self,
        keys: &[(String, String)],
        consistent: bool,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        let found: Mutex<HashMap<(String, String), Item>> = Mutex::default();
        for chunk in keys.chunks(100) {
            let request_keys = chunk
                .iter()
                .filter(|(pk, sk)| super::layout::can_exist(pk, sk))
                .map(|(pk, sk)| HashMap::from([("PK".into(), s(pk)), ("SK".into(), s(sk))]))
                .collect::<Vec<Item>>();
            let found = &found;
            until_processed(request_keys, |request_keys| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(request_keys))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
                let items = out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                for item in items {
                    if let Some(key) = key_of(&item) {
                        found.insert(key, item);
                    }
                }
                Ok(out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default())
            })
            .await?;
        }
        let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(keys.iter().map(|key| found.remove(key)).collect())
    }

    /// One page of index entries (keys and filtered attributes), newest first.
    pub(super) async fn query_index_entries(
        &self,
        index: Index,
        index_pk: String,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Item>, Option<Position>), StoreError> {
        let mut position = index.start_key(&index_pk, start)?;
        let mut names = HashMap::from([("#pk".to_string(), index.pk_attribute().to_string())]);
        let mut values = HashMap::from([(":pk".to_string(), s(index_pk))]);
        let mut filters = Vec::new();
        for (i, condition) in conditions.iter().enumerate() {
            let (attr, op, value) = match condition {
                Condition::Equals(a, v) => (a, "=", v),
                Condition::AtLeast(a, v) => (a, ">=", v),
                Condition::Below(a, v) => (a, "<", v),
            };
            names.insert(format!("#f{i}"), attr.to_string());
            values.insert(format!(":f{i}"), value.clone());
            filters.push(format!("#f{i} {op} :f{i}"));
        }
        let filter_expression = (!filters.is_empty()).then(|| filters.join(" AND "));

        let mut items = Vec::new();
        // A filter can make pages sparse; a bounded number of rounds keeps latency predictable,
        // and the cursor continues where the last round stopped.
        for _ in 0..10 {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name())
                .key_condition_expression("#pk = :pk")
                .set_filter_expression(filter_expression.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit((limit - items.len()) as i32)
                .set_exclusive_start_key(position.take())
                .send()
                .await
                .map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            position = out.last_evaluated_key;
            if position.is_none() || items.len() >= limit {
                break;
            }
        }
        Ok((items, position.as_ref().map(position_of)))
    }

    /// Writes a new record (programs, boards); `Conflict` if its key is taken.
    pub(super) async fn put_if_absent(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Replaces a record read at `seen_updated_at`; `Contended` if it changed since.
    pub(super) async fn replace_if_unchanged(
        &self,
        item: Item,
        seen_updated_at: &Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("updatedAt = :seen")
            .expression_attribute_values(":seen", s(time::format(seen_updated_at)))
            .send()
            .await
            .map_err(classify);
        match result {
            Err(StoreError::Conflict) => Err(StoreError::Contended),
            other => other.map(|_| ()),
        }
    }

    /// `false` when there was nothing to delete.
    pub(super) async fn delete_if_exists(&self, pk: String, sk: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await
            .map_err(classify);
        applied(result)
    }

    /// A listed record by id: GSI1's sort key is the id, so this is one key lookup on the index.
    pub(super) async fn get_listed(
        &self,
        list_pk: String,
        id: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK = :id")
            .expression_attribute_values(":pk", s(list_pk))
            .expression_attribute_values(":id", s(id))
            .limit(1)
            .send()
            .await
            .map_err(classify)?;
        let Some(entry) = out.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        Ok(self.items_of(vec![entry]).await?.into_iter().next())
    }

    /// Items of a partition with sort keys in `[from, to]`, strongly consistent, in key order.
    pub(super) async fn query_range(
        &self,
        pk: String,
        from: &str,
        to: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.query_page(&pk, from, to, true, None, start).await?;
            items.extend(page);
            start = next;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// One page of `query_range`, forward or backward, at most `limit` items.
    pub(super) async fn query_page(
        &self,
        pk: &str,
        from: &str,
        to: &str,
        forward: bool,
        limit: Option<i32>,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .consistent_read(true)
            .scan_index_forward(forward)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    pub(super) async fn query_partition(
        &self,
        pk: String,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_range(pk, prefix, &format!("{prefix}~")).await
    }

    /// One page of the records of one kind (logs, progress records, rewards), newest first: one
    /// member's (GSI2) when `member_id` is given, else the tenant's (GSI1).
    pub async fn list_kind<T: for<'de> Deserialize<'de>>(
        &self,
        tenant: &Tenant,
        slug: &str,
        member_id: Option<&str>,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<T>, Option<Position>), StoreError> {
        let (index, pks) = list_partitions(tenant, slug, member_id);
        let (items, next) = self
            .query_index_shards(index, pks, conditions, limit, start)
            .await?;
        Ok((from_items(items)?, next))
    }

    /// Every stored log (both kinds) and user-journey event of one member, as stored (what a
    /// reconciliation replays).
    pub async fn member_activity_items(
        &self,
        tenant: &Tenant,
        member_id: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut all = Vec::new();
        for slug in MEMBER_ACTIVITY_SLUGS {
            let mut start = None;
            loop {
                let pk = member_activity_pk(tenant, member_id, slug);
                let (items, next) = self.query_index(Index::Gsi2, pk, &[], 1000, start).await?;
                all.extend(items);
                match next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        Ok(all)
    }

    pub async fn get_record(
        &self,
        tenant: &Tenant,
        slug: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let item = self
            .get_listed(sharded_list_pk(tenant, slug, id), id)
            .await?;
        item.map(from_item::<serde_json::Value>).transpose()
    }

    /// Sets (or, with `None`, removes) attributes of a stored record found by `get_record`.
    pub async fn update_record(
        &self,
        record: &serde_json::Value,
        changes: &[(&str, Option<serde_json::Value>)],
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let (Some(pk), Some(sk)) = (record["PK"].as_str(), record["SK"].as_str()) else {
            return Ok(None);
        };
        let mut names = HashMap::from([("#updatedAt".to_string(), "updatedAt".to_string())]);
        let mut values = HashMap::from([(":now".to_string(), s(time::format(&now)))]);
        let mut sets = vec!["#updatedAt = :now".to_string()];
        for (i, (name, value)) in changes.iter().enumerate() {
            names.insert(format!("#f{i}"), name.to_string());
            let av = match value {
                Some(v) => serde_dynamo::to_attribute_value(v)
                    .map_err(|e| StoreError::Other(e.to_string()))?,
                None => AttributeValue::Null(true),
            };
            values.insert(format!(":v{i}"), av);
            sets.push(format!("#f{i} = :v{i}"));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("attribute_exists(PK)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(out) => out
                .attributes
                .map(from_item::<serde_json::Value>)
                .transpose(),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A member's records whose sort key starts with `prefix` (`PROGRESS#`, `REWARD#`, …).
    pub async fn member_records(
        &self,
        tenant: &Tenant,
        member_id: &str,
        prefix: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        from_items(
            self.query_partition(member_id_pk(tenant, member_id), prefix)
                .await?,
        )
    }
}

/// An item's table key.
fn key_of(item: &Item) -> Option<(String, String)> {
    match (item.get("PK"), item.get("SK")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            Some((pk.clone(), sk.clone()))
        }
        _ => None,
    }
}
