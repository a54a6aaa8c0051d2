//! What the stream processor reads and writes: period items, progress records and their head,
//! rewards.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use domain::program::{Program, ProgramKind};
use domain::progress::CountedLog;
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};

use super::codec::{from_items, period_logs, s, to_item};
use super::error::{classify, StoreError};
use super::layout::{
    freezes_sk, member_activity_pk, member_id_pk, period_sk, progress_prefix, progress_sk,
    reward_sk, sharded_list_pk, state_sk,
};
use super::queries::Condition;
use super::*;

/// Logs set by one UpdateItem of a period item: `#lN = :lN, ` is at most 16 characters, and an
/// update expression may not exceed 4 KB.
pub(super) const PERIOD_LOGS_PER_UPDATE: usize = 100;

/// The last progress record of a member in a program and the version it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressHead {
    pub sk: String,
    pub ver: u64,
}

/// A recomputation of a member's progress in a program, to commit (`Store::commit_progress`).
#[derive(Debug, Clone, Copy)]
pub struct ProgressCommit<'a> {
    /// The last record as read (`None`: the member had none in this program).
    pub head: Option<&'a ProgressHead>,
    /// Records to write, new or changed, each with the next `ver`.
    pub puts: &'a [serde_json::Value],
    /// Sort keys of records to remove (runs joined into another).
    pub deletes: &'a [String],
    /// Attributes set on the head when it is neither written nor removed (its `ver` at least).
    pub touch: &'a [(&'a str, AttributeValue)],
}

/// What `put_reward_once` did.
#[derive(Debug, Clone, PartialEq)]
pub enum RewardWrite {
    Created,
    /// Written before (by a replay or an interrupted attempt), at `created_at`, with `id`.
    Existed {
        created_at: Option<Timestamp>,
        id: Option<String>,
    },
}

impl Store {
    /// Records counted logs in their period's item, one attribute per log (`L#{logId}`), so a log
    /// delivered twice sets the same attribute twice: idempotent without a condition. Large
    /// batches are written in chunks (an update expression is limited to 4 KB). Returns every
    /// log the period's item holds after the write (no second read).
    pub async fn record_period_logs(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        period_day: &str,
        logs: &[CountedLog],
    ) -> Result<Vec<CountedLog>, StoreError> {
        let mut item = Item::new();
        for chunk in logs.chunks(PERIOD_LOGS_PER_UPDATE) {
            item = self
                .record_period_chunk(tenant, member_id, program_id, period_day, chunk)
                .await?;
        }
        period_logs(item)
    }

    /// Records freeze grants (SPEC §10) in the member's grants item of the streak, like logs in a
    /// period item (`value` is the count); returns every grant it holds after the write.
    pub async fn record_freeze_grants(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        grants: &[CountedLog],
    ) -> Result<Vec<CountedLog>, StoreError> {
        let mut item = Item::new();
        for chunk in grants.chunks(PERIOD_LOGS_PER_UPDATE) {
            item = self
                .record_logs_chunk(tenant, member_id, &freezes_sk(program_id), chunk)
                .await?;
        }
        period_logs(item)
    }

    /// Every freeze grant of a member in a streak.
    pub async fn freeze_grants(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
    ) -> Result<Vec<CountedLog>, StoreError> {
        let item = self
            .get(
                member_id_pk(tenant, member_id),
                &freezes_sk(program_id),
                true,
            )
            .await?;
        period_logs(item.unwrap_or_default())
    }

    pub(super) async fn record_period_chunk(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        period_day: &str,
        logs: &[CountedLog],
    ) -> Result<Item, StoreError> {
        self.record_logs_chunk(tenant, member_id, &period_sk(program_id, period_day), logs)
            .await
    }

    /// Sets one attribute per log (`L#{id}` = `{at}|{value}`) on the member's item `sk`.
    async fn record_logs_chunk(
        &self,
        tenant: &Tenant,
        member_id: &str,
        sk: &str,
        logs: &[CountedLog],
    ) -> Result<Item, StoreError> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (i, log) in logs.iter().enumerate() {
            names.insert(format!("#l{i}"), format!("L#{}", log.id));
            values.insert(
                format!(":l{i}"),
                s(format!("{}|{}", time::format(&log.activity_at), log.value)),
            );
            sets.push(format!("#l{i} = :l{i}"));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(member_id_pk(tenant, member_id)))
            .key("SK", s(sk))
            .update_expression(format!("SET {}", sets.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// Counted logs of a member in a program whose period starts on a day in `[from_day, to_day]`
    /// (`YYYY-MM-DD`; `None` for no upper bound), from the period items.
    pub async fn counted_logs(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        from_day: &str,
        to_day: Option<&str>,
    ) -> Result<Vec<CountedLog>, StoreError> {
        let upper = to_day
            .map(|d| period_sk(program_id, d))
            .unwrap_or_else(|| period_sk(program_id, "~"));
        let items = self
            .query_range(
                member_id_pk(tenant, member_id),
                &period_sk(program_id, from_day),
                &upper,
            )
            .await?;
        let mut logs = Vec::new();
        for item in items {
            logs.extend(period_logs(item)?);
        }
        Ok(logs)
    }

    /// A member's progress records in a program from the one at or before `from_key` (run or
    /// window keys sort in time order) to the last one, the head, in key order. Read backwards
    /// from the head: usually a single item.
    pub async fn progress_tail(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        from_key: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let from_sk = progress_sk(program_id, from_key);
        let pk = member_id_pk(tenant, member_id);
        let (first, last) = (progress_prefix(program_id), progress_sk(program_id, "~"));
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self
                .query_page(&pk, &first, &last, false, Some(4), start)
                .await?;
            let reached = page.iter().any(
                |item| matches!(item.get("SK"), Some(AttributeValue::S(sk)) if *sk <= from_sk),
            );
            items.extend(page);
            start = next;
            if reached || start.is_none() {
                break;
            }
        }
        items.reverse();
        // A page may reach past the record at or before `from_key`: start at that record.
        let before = items
            .iter()
            .rposition(
                |item| matches!(item.get("SK"), Some(AttributeValue::S(sk)) if *sk <= from_sk),
            )
            .unwrap_or(0);
        items.drain(..before);
        from_items(items)
    }

    /// Commits a recomputation of a member's progress in a program: writes `puts` (their `ver` is
    /// the next version) and removes `deletes`, if nobody else committed since `head` was read.
    /// Every commit changes the head's `ver` (or removes it), so two commits that read the same
    /// head cannot both succeed (`Contended`: recompute and retry). When the head is the only
    /// record written — a log that extends the current run or window — this is one conditional
    /// write; otherwise one transaction. Without a head (the first records) a marker item makes
    /// concurrent first commits collide.
    pub async fn commit_progress(
        &self,
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        commit: &ProgressCommit<'_>,
    ) -> Result<(), StoreError> {
        let ProgressCommit {
            head,
            puts,
            deletes,
            touch,
        } = *commit;
        let pk = member_id_pk(tenant, member_id);
        let is_head = |sk: &str| head.is_some_and(|h| h.sk == sk);
        let version = |h: &ProgressHead| AttributeValue::N(h.ver.to_string());
        let mut items = Vec::new();
        let mut head_written = false;
        for record in puts {
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(record)?));
            if let Some(h) = head.filter(|_| is_head(record["SK"].as_str().unwrap_or_default())) {
                head_written = true;
                put = put
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", version(h));
            }
            let put = put.build().map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for sk in deletes {
            let mut delete = Delete::builder()
                .table_name(&self.table)
                .key("PK", s(pk.clone()))
                .key("SK", s(sk.clone()));
            if let Some(h) = head.filter(|_| is_head(sk)) {
                head_written = true;
                delete = delete
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", version(h));
            }
            let delete = delete
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match head {
            Some(h) if !head_written => {
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("PK", s(pk.clone()))
                    .key("SK", s(h.sk.clone()))
                    .condition_expression("ver = :v")
                    .expression_attribute_values(":v", version(h));
                let mut sets = Vec::new();
                for (i, (name, value)) in touch.iter().enumerate() {
                    update = update
                        .expression_attribute_names(format!("#t{i}"), *name)
                        .expression_attribute_values(format!(":t{i}"), value.clone());
                    sets.push(format!("#t{i} = :t{i}"));
                }
                let update = update
                    .update_expression(format!("SET {}", sets.join(", ")))
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            Some(_) => {}
            None => {
                let marker = Put::builder()
                    .table_name(&self.table)
                    .item("PK", s(pk.clone()))
                    .item("SK", s(state_sk(program_id)))
                    .condition_expression("attribute_not_exists(PK)")
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                items.push(TransactWriteItem::builder().put(marker).build());
            }
        }
        // Alone, the head's write is a put (it changed) or an update (its version moves on).
        let result = if let [single @ TransactWriteItem { delete: None, .. }] = items.as_slice() {
            self.write_one(single.clone()).await
        } else {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        };
        match result {
            Err(StoreError::Conflict) => Err(StoreError::Contended),
            other => other,
        }
    }

    /// Writes a reward unless one with its key exists: one per (member, milestone, run or window).
    /// When it exists, says when it was created (read from the failed condition, no extra read).
    pub async fn put_reward_once(
        &self,
        reward: &serde_json::Value,
    ) -> Result<RewardWrite, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(reward)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(RewardWrite::Created),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match e.err() {
                    PutItemError::ConditionalCheckFailedException(x) => x.item(),
                    _ => None,
                };
                let text = |name: &str| {
                    old.and_then(|i| i.get(name))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                };
                let created_at = text("createdAt")
                    .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
                    .map(|t| t.with_timezone(&chrono::Utc));
                Ok(RewardWrite::Existed {
                    created_at,
                    id: text("id"),
                })
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Live milestones linked to a program.
    pub async fn live_milestones(
        &self,
        tenant: &Tenant,
        program_id: &str,
    ) -> Result<Vec<Program>, StoreError> {
        let conditions = [
            Condition::equals("linkedSchemaRecordId", program_id),
            Condition::equals("status", "live"),
        ];
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self
                .list_programs(tenant, ProgramKind::Milestone, &conditions, 1000, start)
                .await?;
            out.extend(page);
            match next {
                Some(n) => start = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Key attributes of a progress record (`slug` `streak_progress` or `challenge_progress`):
    /// a streak run or challenge window by its key, in the member's partition.
    pub fn progress_keys(
        tenant: &Tenant,
        member_id: &str,
        program_id: &str,
        progress_key: &str,
        slug: &str,
        id: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let sk = progress_sk(program_id, progress_key);
        Self::record_keys(tenant, member_id, &sk, slug, id)
    }

    /// The due-index attributes (GSI3) of a progress record in progress whose deadline is
    /// `deadline` (RFC 3339, UTC): what the clock's sweep finds when the deadline has passed.
    /// The due index's attributes of a record in progress whose next clock action is at `due_at`
    /// (an at-risk moment or its deadline).
    pub fn due_keys(pk: &str, sk: &str, due_at: &str) -> [(&'static str, String); 2] {
        [
            ("GSI3PK", super::layout::due_pk(due_at, pk, sk)),
            ("dueAt", due_at.to_string()),
        ]
    }

    /// Key attributes of a reward: one per milestone and run or window.
    pub fn reward_keys(
        tenant: &Tenant,
        member_id: &str,
        milestone_id: &str,
        progress_key: &str,
        id: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let sk = reward_sk(milestone_id, progress_key);
        Self::record_keys(tenant, member_id, &sk, "reward_log", id)
    }

    /// Key attributes of a progress or reward record: in the member's partition, listed on GSI1 by
    /// kind and on GSI2 by member and kind.
    fn record_keys(
        tenant: &Tenant,
        member_id: &str,
        sk: &str,
        slug: &str,
        id: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut keys = serde_json::Map::new();
        keys.insert("PK".into(), member_id_pk(tenant, member_id).into());
        keys.insert("SK".into(), sk.into());
        keys.insert("GSI1PK".into(), sharded_list_pk(tenant, slug, id).into());
        keys.insert("GSI1SK".into(), id.into());
        keys.insert(
            "GSI2PK".into(),
            member_activity_pk(tenant, member_id, slug).into(),
        );
        keys.insert("GSI2SK".into(), id.into());
        keys
    }
}
