//! A partition-heat meter beside the capacity meter: how many writes each partition key takes, in
//! the table and in each index, counted from the table's stream (every item write is one stream
//! record with its old and new image, so nothing the code does can escape it).
//!
//! Index writes follow DynamoDB's rules for the table's indexes as `template.yaml` declares them:
//! an item write changes an index partition when the item has (or had) that index's key and the
//! key or a projected attribute changed; a changed key is a delete from the old partition and a put
//! into the new one. Writes are counted, not sized: a partition's limit is about 1,000 write units
//! a second and the items here are under 1 KB, so a write is a unit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_lambda_events::dynamodb::EventRecord;
use serde_dynamo::Item;

use crate::table::TableSpec;

/// Where a write lands: the table, or an index by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Table,
    Index(String),
}

/// Writes per (target, partition key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heat {
    pub writes: BTreeMap<(Target, String), u64>,
}

/// One index as the meter needs it: its key attributes and the attributes it projects.
#[derive(Debug, Clone)]
struct IndexView {
    name: String,
    pk: String,
    keys: Vec<String>,
    /// `None`: every attribute (`ALL`).
    projected: Option<BTreeSet<String>>,
}

/// The meter: the table's indexes, and the counts so far.
#[derive(Debug, Clone)]
pub struct HeatMeter {
    table_pk: String,
    indexes: Vec<IndexView>,
    pub heat: Heat,
}

impl HeatMeter {
    /// The indexes of `template.yaml`'s table.
    pub fn from_template(path: &Path) -> Result<Self, String> {
        let spec = TableSpec::from_template(path)?;
        let table_pk = spec
            .key_schema
            .iter()
            .find(|(_, kind)| kind == "HASH")
            .map(|(name, _)| name.clone())
            .ok_or("the table has no partition key")?;
        let table_keys: Vec<String> = spec.key_schema.iter().map(|(n, _)| n.clone()).collect();
        let indexes = spec
            .indexes
            .iter()
            .map(|(name, keys, projection)| {
                let key_names: Vec<String> = keys.iter().map(|(n, _)| n.clone()).collect();
                IndexView {
                    name: name.clone(),
                    pk: keys
                        .iter()
                        .find(|(_, kind)| kind == "HASH")
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default(),
                    keys: key_names,
                    projected: match projection.kind.as_str() {
                        "ALL" => None,
                        // Keys of the table and the index always; INCLUDE adds its attributes.
                        _ => Some(
                            table_keys
                                .iter()
                                .chain(keys.iter().map(|(n, _)| n))
                                .chain(&projection.attributes)
                                .cloned()
                                .collect(),
                        ),
                    },
                }
            })
            .collect();
        Ok(HeatMeter {
            table_pk,
            indexes,
            heat: Heat::default(),
        })
    }

    /// Counts the writes of stream records.
    pub fn record<'a>(&mut self, records: impl IntoIterator<Item = &'a EventRecord>) {
        for record in records {
            let (old, new) = (&record.change.old_image, &record.change.new_image);
            let keys = &record.change.keys;
            if let Some(pk) = string(keys, &self.table_pk) {
                self.heat.add(Target::Table, pk);
            }
            for index in &self.indexes {
                let (was, is) = (string(old, &index.pk), string(new, &index.pk));
                let key_changed = index.keys.iter().any(|k| old.get(k) != new.get(k));
                let projection_changed = match &index.projected {
                    None => old != new,
                    Some(names) => names.iter().any(|n| old.get(n) != new.get(n)),
                };
                if !key_changed && !projection_changed {
                    continue;
                }
                let target = || Target::Index(index.name.clone());
                match (was, is) {
                    (Some(was), Some(is)) if was == is => self.heat.add(target(), is),
                    (was, is) => {
                        if let Some(was) = was {
                            self.heat.add(target(), was);
                        }
                        if let Some(is) = is {
                            self.heat.add(target(), is);
                        }
                    }
                }
            }
        }
    }
}

impl Heat {
    fn add(&mut self, target: Target, pk: String) {
        *self.writes.entry((target, pk)).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.writes.values().sum()
    }

    /// The partitions that took the most writes, hottest first.
    pub fn hottest(&self, n: usize) -> Vec<(&Target, &str, u64)> {
        let mut all: Vec<_> = self
            .writes
            .iter()
            .map(|((t, pk), w)| (t, pk.as_str(), *w))
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(b.1)));
        all.truncate(n);
        all
    }

    /// Writes to the partitions whose key starts with `prefix` (e.g. every shard of a list).
    pub fn with_prefix(&self, target: &Target, prefix: &str) -> Vec<(&str, u64)> {
        self.writes
            .iter()
            .filter(|((t, pk), _)| t == target && pk.starts_with(prefix))
            .map(|((_, pk), w)| (pk.as_str(), *w))
            .collect()
    }
}

fn string(item: &Item, name: &str) -> Option<String> {
    match item.get(name)? {
        serde_dynamo::AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(name: &str, old: serde_json::Value, new: serde_json::Value) -> EventRecord {
        let keys = if new.is_null() { &old } else { &new };
        let keys = json!({"PK": keys["PK"], "SK": keys["SK"]});
        serde_json::from_value(json!({
            "eventID": "1", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {"Keys": keys, "OldImage": if old.is_null() { json!({}) } else { old }, "NewImage": if new.is_null() { json!({}) } else { new }, "SequenceNumber": "1", "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }))
        .unwrap()
    }

    fn s(v: &str) -> serde_json::Value {
        json!({"S": v})
    }

    #[test]
    fn writes_land_where_dynamodb_writes_them() {
        let mut meter = HeatMeter::from_template(&crate::template_path()).unwrap();
        let log = json!({"PK": s("T#a#LOG#1"), "SK": s("LOG"), "GSI1PK": s("T#a#LIST#streak_log#3"), "GSI1SK": s("1"), "GSI2PK": s("T#a#MEMBER#m#streak_log"), "GSI2SK": s("1"), "ownedById": s("m")});
        let member = json!({"PK": s("T#a#EXT#u"), "SK": s("MEMBER"), "GSI1PK": s("T#a#LIST#account_user#5"), "GSI1SK": s("m"), "status": s("live"), "activity": s("a")});
        let mut analysed = member.clone();
        analysed["activity"] = s("b");
        let mut paused = analysed.clone();
        paused["status"] = s("paused");
        let mut moved = paused.clone();
        moved["GSI1PK"] = s("T#a#LIST#account_user#6");
        meter.record(&[
            // A new log: the table and both indexes.
            record("INSERT", serde_json::Value::Null, log.clone()),
            // An update of an attribute no index projects: the table only.
            record("MODIFY", member.clone(), analysed.clone()),
            // A projected attribute changed: the table and the index entry.
            record("MODIFY", analysed, paused.clone()),
            // The index key changed: a delete from one partition, a put into the other.
            record("MODIFY", paused, moved.clone()),
            // A removal: the table and every index the item was in.
            record("REMOVE", log, serde_json::Value::Null),
        ]);
        let w = |t: Target, pk: &str| meter.heat.writes.get(&(t, pk.to_string())).copied();
        let gsi = |n: &str| Target::Index(n.into());
        assert_eq!(w(Target::Table, "T#a#LOG#1"), Some(2));
        assert_eq!(w(gsi("GSI1"), "T#a#LIST#streak_log#3"), Some(2));
        assert_eq!(w(gsi("GSI2"), "T#a#MEMBER#m#streak_log"), Some(2));
        assert_eq!(w(Target::Table, "T#a#EXT#u"), Some(3));
        assert_eq!(w(gsi("GSI1"), "T#a#LIST#account_user#5"), Some(2));
        assert_eq!(w(gsi("GSI1"), "T#a#LIST#account_user#6"), Some(1));
        assert_eq!(meter.heat.total(), 12);
        assert_eq!(meter.heat.hottest(1)[0].2, 3);
        assert_eq!(
            meter
                .heat
                .with_prefix(&gsi("GSI1"), "T#a#LIST#account_user#")
                .len(),
            2
        );
    }
}
