//! Leaderboards (SPEC §11): boards; a member's score per board and period, an item in the
//! member's partition listed on GSI4 under one of `BOARD_SHARDS` partitions in rank-key order; and
//! one histogram item per board period and shard (participants, counts by value bucket). A score
//! change is one transaction (score, histogram, the source's mark), so it applies once and the
//! histogram always agrees with the scores. Reads touch every shard a bounded number of times.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, Select, TransactWriteItem, Update};
use futures_util::future::try_join_all;
use futures_util::StreamExt;
use rust_decimal::Decimal;

use domain::cursor::Position;
use domain::leaderboard::{bucket_of, rank_key, Leaderboard, NextFinish, Score, SLUG};
use domain::tenant::Tenant;
use domain::time::{self, Timestamp};

use super::codec::{from_item, from_items, s, stored, Keys};
use super::error::{applied, cancellation_reasons, classify, condition_failed, StoreError};
use super::layout::{
    board_pk, board_shard, board_shard_pk, histogram_pk, list_index_pk, member_id_pk, score_sk,
    Index, BOARD_FINISHED_PREFIX, BOARD_SHARDS, BOARD_SK, GSI4, HISTOGRAM_SK,
};
use super::*;

/// Whose score on which board period a write is about.
#[derive(Debug, Clone, Copy)]
pub struct ScoreOwner<'a> {
    pub board_id: &'a str,
    pub period_key: &'a str,
    pub member_id: &'a str,
    pub external_id: &'a str,
    pub display_name: Option<&'a str>,
}

/// One change of a member's score on a board: `delta` added in the owner's period.
pub struct ScoreChange<'a> {
    pub owner: ScoreOwner<'a>,
    pub delta: Decimal,
    /// When the activity happened: the score's `reachedAt` is the latest of its changes'.
    pub at: Timestamp,
    /// The table key of the item the change comes from (a log, a points entry): marked with the
    /// board in the same transaction, so a replayed or reconciled source adds nothing more.
    pub source: (&'a str, &'a str),
}

/// A member's score set to `value` (a streak's run length, a challenge window's value), as of
/// the progress record's `version`: an older version never replaces a newer one.
pub struct ScoreSet<'a> {
    pub owner: ScoreOwner<'a>,
    pub value: Decimal,
    /// When the progress reached `value` (kept while the value stays the same).
    pub at: Timestamp,
    pub version: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScoreWrite {
    Applied,
    /// The source was counted on this board before (or is gone): nothing was written.
    AlreadyApplied,
}

/// What a board period's histogram items say together.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BoardSummary {
    pub participants: u64,
    /// The last time a score changed.
    pub as_of: Option<Timestamp>,
    /// Participants by bucket lower bound (`domain::leaderboard::bucket_of`).
    pub buckets: BTreeMap<Decimal, u64>,
}

const CONFLICT_RETRIES: u32 = 12;

/// How a write changes the score.
enum ScoreUpdate<'a> {
    Add(&'a ScoreChange<'a>),
    Set(&'a ScoreSet<'a>),
}

impl<'a> ScoreUpdate<'a> {
    fn owner(&self) -> ScoreOwner<'a> {
        match self {
            ScoreUpdate::Add(change) => change.owner,
            ScoreUpdate::Set(set) => set.owner,
        }
    }
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn bucket_name(value: Decimal) -> String {
    format!("b{}", bucket_of(value).0)
}

fn score_of_item(item: &Item) -> Option<Score> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(Score {
        member_id: text("ownedById")?,
        external_id: text("externalId").unwrap_or_default(),
        display_name: text("displayName"),
        value: item.get("value")?.as_n().ok()?.parse().ok()?,
        reached_at: time::parse(&text("reachedAt")?).ok()?,
    })
}

/// A member's score item on a board period (its GSI4 keys included).
fn score_item(
    tenant: &Tenant,
    board_id: &str,
    period_key: &str,
    score: &Score,
    now: Timestamp,
) -> Item {
    let shard = board_shard(&score.member_id);
    let mut item: Item = [
        ("PK", s(member_id_pk(tenant, &score.member_id))),
        ("SK", s(score_sk(board_id, period_key))),
        (
            "GSI4PK",
            s(board_shard_pk(tenant, board_id, period_key, shard)),
        ),
        (
            "GSI4SK",
            s(rank_key(score.value, &score.reached_at, &score.member_id)),
        ),
        ("ownedById", s(&score.member_id)),
        ("externalId", s(&score.external_id)),
        ("boardId", s(board_id)),
        ("periodKey", s(period_key)),
        ("shard", n(shard)),
        ("value", n(score.value)),
        ("reachedAt", s(time::format(&score.reached_at))),
        ("updatedAt", s(time::format(&now))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(name) = &score.display_name {
        item.insert("displayName".into(), s(name));
    }
    item
}

impl Store {
    /// Writes a board period's scores and histograms at once, unconditionally (what a bulk import
    /// or a benchmark does; the stream processor goes through `add_to_score`). The period must
    /// hold no scores yet.
    pub async fn load_board(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
        scores: &[Score],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut histograms: Vec<Item> = (0..BOARD_SHARDS)
            .map(|shard| {
                [
                    (
                        "PK".to_string(),
                        s(histogram_pk(tenant, board_id, period_key, shard)),
                    ),
                    ("SK".to_string(), s(HISTOGRAM_SK)),
                    ("participants".to_string(), n(0)),
                    ("updatedAt".to_string(), s(time::format(&now))),
                ]
                .into_iter()
                .collect()
            })
            .collect();
        let mut requests = Vec::with_capacity(scores.len());
        for score in scores {
            let histogram = &mut histograms[board_shard(&score.member_id)];
            for name in ["participants".to_string(), bucket_name(score.value)] {
                let count = histogram
                    .get(&name)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                histogram.insert(name, n(count + 1));
            }
            requests.push(score_item(tenant, board_id, period_key, score, now));
        }
        requests.extend(histograms);
        let requests: Vec<WriteRequest> = requests
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| StoreError::Other(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        let mut work = futures_util::stream::iter(chunks.into_iter().map(|c| self.batch_write(c)))
            .buffer_unordered(16);
        while let Some(done) = futures_util::StreamExt::next(&mut work).await {
            done?;
        }
        Ok(())
    }

    /// A board as an item; while a period waits to be announced, it is on the due index (GSI3)
    /// at the moment that period settles.
    fn board_item(&self, tenant: &Tenant, board: &Leaderboard) -> Result<Item, StoreError> {
        let pk = board_pk(tenant, &board.id);
        let mut item = stored(
            Keys::table(pk.clone(), BOARD_SK).listed(list_index_pk(tenant, SLUG), board.id.clone()),
            board,
        )?;
        if let Some(next) = &board.next_finish {
            item.extend(
                Store::due_keys(&pk, BOARD_SK, &time::format(&next.at))
                    .map(|(name, value)| (name.to_string(), s(value))),
            );
        }
        Ok(item)
    }

    /// The board behind an entry of the due index.
    pub async fn due_board(&self, due: &DueRecord) -> Result<Option<Leaderboard>, StoreError> {
        let item = self.get(due.pk.clone(), &due.sk, true).await?;
        item.map(from_item::<Leaderboard>).transpose()
    }

    /// Announces the period of `due` (a board's entry on the due index) once: `finished` goes in
    /// as the `FINISHED#{periodKey}` item if there is none (the stream carries it to
    /// `leaderboard.finished`), then the board's entry moves on to `next` (off the index when
    /// `None`). `false` if another sweep got to both first; a crash between the two writes is
    /// mended by the next sweep, which finds the item and only moves the entry.
    pub async fn finish_board_period(
        &self,
        due: &DueRecord,
        period_key: &str,
        finished: &serde_json::Value,
        next: Option<&NextFinish>,
    ) -> Result<bool, StoreError> {
        let mut item = super::codec::to_item(finished)?;
        item.insert("PK".into(), s(&due.pk));
        item.insert(
            "SK".into(),
            s(format!("{BOARD_FINISHED_PREFIX}{period_key}")),
        );
        let announced = self.put_if_absent(item).await;
        let announced = match announced {
            Ok(()) => true,
            Err(StoreError::Conflict) => false,
            Err(e) => return Err(e),
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(&due.pk))
            .key("SK", s(&due.sk))
            .condition_expression("nextFinish.periodKey = :key")
            .expression_attribute_values(":key", s(period_key));
        let update = match next {
            Some(next) => {
                let [(_, gsi3pk), (_, due_at)] =
                    Store::due_keys(&due.pk, &due.sk, &time::format(&next.at));
                let value = serde_dynamo::to_attribute_value(next)
                    .map_err(|e| StoreError::Other(format!("encode item: {e}")))?;
                update
                    .update_expression("SET nextFinish = :next, GSI3PK = :gsi3pk, dueAt = :due")
                    .expression_attribute_values(":next", value)
                    .expression_attribute_values(":gsi3pk", s(gsi3pk))
                    .expression_attribute_values(":due", s(due_at))
            }
            None => update.update_expression("REMOVE nextFinish, GSI3PK, dueAt"),
        };
        let moved = applied(update.send().await.map_err(classify))?;
        Ok(announced || moved)
    }

    pub async fn insert_board(
        &self,
        tenant: &Tenant,
        board: &Leaderboard,
    ) -> Result<(), StoreError> {
        self.put_if_absent(self.board_item(tenant, board)?).await
    }

    /// Replaces a board read at `seen_updated_at`; `Contended` if it changed since.
    pub async fn replace_board(
        &self,
        tenant: &Tenant,
        board: &Leaderboard,
        seen_updated_at: &Timestamp,
    ) -> Result<(), StoreError> {
        self.replace_if_unchanged(self.board_item(tenant, board)?, seen_updated_at)
            .await
    }

    pub async fn get_board(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Leaderboard>, StoreError> {
        let item = self.get(board_pk(tenant, id), BOARD_SK, true).await?;
        item.map(from_item::<Leaderboard>).transpose()
    }

    /// `false` when there was nothing to delete. Its standings stay until their items are
    /// swept; nothing reads them without the board.
    pub async fn delete_board(&self, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
        self.delete_if_exists(board_pk(tenant, id), BOARD_SK).await
    }

    /// One page of a tenant's boards, newest first.
    pub async fn list_boards(
        &self,
        tenant: &Tenant,
        conditions: &[super::queries::Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Leaderboard>, Option<Position>), StoreError> {
        let (items, next) = self
            .query_index(
                Index::Gsi1,
                list_index_pk(tenant, SLUG),
                conditions,
                limit,
                start,
            )
            .await?;
        Ok((from_items(items)?, next))
    }

    /// A member's score on a board in a period.
    pub async fn score_of(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
        member_id: &str,
    ) -> Result<Option<Score>, StoreError> {
        let item = self
            .get(
                member_id_pk(tenant, member_id),
                &score_sk(board_id, period_key),
                true,
            )
            .await?;
        Ok(item.as_ref().and_then(score_of_item))
    }

    /// Adds `change.delta` to the member's score, once per source and board.
    pub async fn add_to_score(
        &self,
        tenant: &Tenant,
        change: &ScoreChange<'_>,
        now: Timestamp,
    ) -> Result<ScoreWrite, StoreError> {
        self.write_score(tenant, ScoreUpdate::Add(change), now)
            .await
    }

    /// Sets the member's score to `set.value` unless a newer version set it already.
    pub async fn set_score(
        &self,
        tenant: &Tenant,
        set: &ScoreSet<'_>,
        now: Timestamp,
    ) -> Result<ScoreWrite, StoreError> {
        self.write_score(tenant, ScoreUpdate::Set(set), now).await
    }

    /// One score write: the score item (conditional on the value read), the histogram, and for
    /// an addition the source's mark, in one transaction; retried when the score moved since it
    /// was read.
    async fn write_score(
        &self,
        tenant: &Tenant,
        update: ScoreUpdate<'_>,
        now: Timestamp,
    ) -> Result<ScoreWrite, StoreError> {
        let owner = update.owner();
        let (pk, sk) = (
            member_id_pk(tenant, owner.member_id),
            score_sk(owner.board_id, owner.period_key),
        );
        let shard = board_shard(owner.member_id);
        let mut attempt = 0;
        loop {
            let old_item = self.get(pk.clone(), &sk, true).await?;
            let old = old_item.as_ref().and_then(score_of_item);
            let (value, reached_at) = match &update {
                ScoreUpdate::Add(change) => (
                    old.as_ref().map_or(Decimal::ZERO, |o| o.value) + change.delta,
                    old.as_ref()
                        .map_or(change.at, |o| o.reached_at.max(change.at)),
                ),
                ScoreUpdate::Set(set) => {
                    let seen = old_item
                        .as_ref()
                        .and_then(|i| i.get("sourceVer"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                    if old.is_some() && seen >= set.version {
                        return Ok(ScoreWrite::AlreadyApplied);
                    }
                    let kept = old.as_ref().filter(|o| o.value == set.value);
                    (set.value, kept.map_or(set.at, |o| o.reached_at))
                }
            };
            let score = Score {
                member_id: owner.member_id.to_string(),
                external_id: owner.external_id.to_string(),
                display_name: owner.display_name.map(str::to_string),
                value,
                reached_at,
            };
            let mut item = score_item(tenant, owner.board_id, owner.period_key, &score, now);
            if let ScoreUpdate::Set(set) = &update {
                item.insert("sourceVer".into(), n(set.version));
            }
            let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
            put = match &old {
                None => put.condition_expression("attribute_not_exists(PK)"),
                Some(o) => put
                    .condition_expression("#v = :old")
                    .expression_attribute_names("#v", "value")
                    .expression_attribute_values(":old", n(o.value)),
            };
            let histogram = self.histogram_update(
                tenant,
                owner.board_id,
                owner.period_key,
                shard,
                old.as_ref().map(|o| o.value),
                Some(value),
                now,
            )?;
            let mut items = vec![
                TransactWriteItem::builder()
                    .put(put.build().map_err(|e| StoreError::Other(e.to_string()))?)
                    .build(),
                histogram,
            ];
            if let ScoreUpdate::Add(change) = &update {
                let mark = Update::builder()
                    .table_name(&self.table)
                    .key("PK", s(change.source.0))
                    .key("SK", s(change.source.1))
                    .update_expression("ADD boards :board")
                    .condition_expression("attribute_exists(PK) AND NOT contains(boards, :id)")
                    .expression_attribute_values(
                        ":board",
                        AttributeValue::Ss(vec![owner.board_id.into()]),
                    )
                    .expression_attribute_values(":id", s(owner.board_id))
                    .build()
                    .map_err(|e| StoreError::Other(e.to_string()))?;
                items.push(TransactWriteItem::builder().update(mark).build());
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let Err(err) = result else {
                return Ok(ScoreWrite::Applied);
            };
            let reasons = cancellation_reasons(&err);
            if matches!(update, ScoreUpdate::Add(_)) && condition_failed(&reasons, 2) {
                return Ok(ScoreWrite::AlreadyApplied);
            }
            let retry = match classify(err) {
                // The score changed since it was read (another source of the same member).
                StoreError::Conflict => true,
                StoreError::Contended => true,
                other => return Err(other),
            };
            if retry && attempt < CONFLICT_RETRIES {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            } else {
                return Err(StoreError::Contended);
            }
        }
    }

    /// The histogram's side of a score moving from `old` to `new` (`None`: not on the board).
    #[allow(clippy::too_many_arguments)]
    fn histogram_update(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
        shard: usize,
        old: Option<Decimal>,
        new: Option<Decimal>,
        now: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut adds = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("PK", s(histogram_pk(tenant, board_id, period_key, shard)))
            .key("SK", s(HISTOGRAM_SK))
            .expression_attribute_values(":now", s(time::format(&now)));
        match (old, new) {
            (None, Some(_)) => adds.push(("participants".to_string(), 1)),
            (Some(_), None) => adds.push(("participants".to_string(), -1)),
            _ => {}
        }
        let (old_bucket, new_bucket) = (old.map(bucket_name), new.map(bucket_name));
        if old_bucket != new_bucket {
            adds.extend(old_bucket.map(|b| (b, -1)));
            adds.extend(new_bucket.map(|b| (b, 1)));
        }
        let mut expression = "SET updatedAt = :now".to_string();
        if !adds.is_empty() {
            let parts: Vec<String> = adds
                .iter()
                .enumerate()
                .map(|(i, _)| format!("#a{i} :a{i}"))
                .collect();
            expression.push_str(&format!(" ADD {}", parts.join(", ")));
        }
        for (i, (name, delta)) in adds.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), n(delta));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Participants, `asOf` and bucket counts of a board period: one batched read of its
    /// `BOARD_SHARDS` histogram items.
    pub async fn board_summary(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
    ) -> Result<BoardSummary, StoreError> {
        let keys: Vec<(String, String)> = (0..BOARD_SHARDS)
            .map(|shard| {
                (
                    histogram_pk(tenant, board_id, period_key, shard),
                    HISTOGRAM_SK.into(),
                )
            })
            .collect();
        let mut summary = BoardSummary::default();
        for item in self.items_by_key(&keys, false).await?.into_iter().flatten() {
            for (name, value) in &item {
                let count = value.as_n().ok().and_then(|v| v.parse::<i64>().ok());
                match (name.as_str(), count) {
                    ("participants", Some(c)) => summary.participants += c.max(0) as u64,
                    ("updatedAt", _) => {
                        let at = value.as_s().ok().and_then(|v| time::parse(v).ok());
                        summary.as_of = summary.as_of.max(at);
                    }
                    (bucket, Some(c)) if c > 0 => {
                        if let Some(lower) = bucket.strip_prefix('b').and_then(|b| b.parse().ok()) {
                            *summary.buckets.entry(lower).or_default() += c as u64;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(summary)
    }

    /// One GSI4 query of one shard: scores after (`forward`) or before `bound` in rank-key
    /// order, at most `limit`; and whether the shard holds more.
    async fn board_shard_page(
        &self,
        shard_pk: String,
        bound: Option<&str>,
        forward: bool,
        limit: usize,
    ) -> Result<(Vec<Score>, bool), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI4)
            .expression_attribute_values(":pk", s(shard_pk))
            .scan_index_forward(forward)
            .limit(limit.max(1) as i32);
        query = match bound {
            None => query.key_condition_expression("GSI4PK = :pk"),
            Some(b) => query
                .key_condition_expression(if forward {
                    "GSI4PK = :pk AND GSI4SK > :b"
                } else {
                    "GSI4PK = :pk AND GSI4SK < :b"
                })
                .expression_attribute_values(":b", s(b)),
        };
        let out = query.send().await.map_err(classify)?;
        let more = out.last_evaluated_key.is_some();
        Ok((
            out.items
                .unwrap_or_default()
                .iter()
                .filter_map(score_of_item)
                .collect(),
            more,
        ))
    }

    /// The best `limit` scores after rank key `after` (the whole board when `None`), best first.
    /// Each shard is read for its share first; only shards whose share may reach into the page
    /// are read again, once, so a page reads at most `2 × limit` entries per shard and usually
    /// little more than `limit` in all.
    pub async fn top_scores(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Vec<Score>, StoreError> {
        self.scores_beside(tenant, board_id, period_key, limit, after, true)
            .await
    }

    /// The `limit` scores just before (`forward = false`) or after `bound` in rank order,
    /// nearest first.
    pub async fn scores_beside(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
        limit: usize,
        bound: Option<&str>,
        forward: bool,
    ) -> Result<Vec<Score>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = |s: &Score| rank_key(s.value, &s.reached_at, &s.member_id);
        let nearer = |a: &String, b: &String| if forward { a < b } else { a > b };
        let share = limit.div_ceil(BOARD_SHARDS) + 4;
        let first = try_join_all((0..BOARD_SHARDS).map(|shard| {
            self.board_shard_page(
                board_shard_pk(tenant, board_id, period_key, shard),
                bound,
                forward,
                share,
            )
        }))
        .await?;
        let mut shards: Vec<(Vec<Score>, bool)> = first;
        for round in 0..2 {
            let mut all: Vec<(String, usize)> = shards
                .iter()
                .enumerate()
                .flat_map(|(i, (scores, _))| scores.iter().map(move |s| (key(s), i)))
                .collect();
            all.sort_by(|a, b| {
                if forward {
                    a.0.cmp(&b.0)
                } else {
                    b.0.cmp(&a.0)
                }
            });
            let cutoff = all.get(limit - 1).map(|(k, _)| k.clone());
            // A shard with more to give matters unless its last entry is already past the page.
            let again: Vec<usize> = shards
                .iter()
                .enumerate()
                .filter(|(_, (scores, more))| {
                    *more
                        && match (&cutoff, scores.last()) {
                            (Some(c), Some(last)) => nearer(&key(last), c),
                            _ => true,
                        }
                })
                .map(|(i, _)| i)
                .collect();
            if again.is_empty() || round == 1 {
                let mut page: Vec<Score> = Vec::with_capacity(limit);
                let mut taken: Vec<Score> = shards.into_iter().flat_map(|(s, _)| s).collect();
                taken.sort_by_key(key);
                if !forward {
                    taken.reverse();
                }
                page.extend(taken.into_iter().take(limit));
                return Ok(page);
            }
            let more = try_join_all(again.iter().map(|&i| {
                let last = shards[i].0.last().map(key);
                let bound = last.or(bound.map(str::to_string));
                async move {
                    self.board_shard_page(
                        board_shard_pk(tenant, board_id, period_key, i),
                        bound.as_deref(),
                        forward,
                        limit,
                    )
                    .await
                    .map(|page| (i, page))
                }
            }))
            .await?;
            for (i, (scores, more)) in more {
                shards[i].0.extend(scores);
                shards[i].1 = more;
            }
        }
        Ok(Vec::new())
    }

    /// How many scores stand before rank key `bound` (a `value_key` counts the strictly better
    /// values), if each shard holds at most `per_shard` of them; `None` past that.
    pub async fn count_before(
        &self,
        tenant: &Tenant,
        board_id: &str,
        period_key: &str,
        bound: &str,
        per_shard: usize,
    ) -> Result<Option<u64>, StoreError> {
        let counts = try_join_all((0..BOARD_SHARDS).map(|shard| async move {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI4)
                .key_condition_expression("GSI4PK = :pk AND GSI4SK < :b")
                .expression_attribute_values(
                    ":pk",
                    s(board_shard_pk(tenant, board_id, period_key, shard)),
                )
                .expression_attribute_values(":b", s(bound))
                .select(Select::Count)
                .limit(per_shard as i32)
                .send()
                .await
                .map_err(classify)?;
            Ok::<_, StoreError>(
                (out.last_evaluated_key.is_none()).then_some(out.count.max(0) as u64),
            )
        }))
        .await?;
        Ok(counts.into_iter().sum())
    }

    /// Takes a deleted member off every board (scores and histograms), before its partition goes.
    pub(super) async fn leave_boards(
        &self,
        tenant: &Tenant,
        member_id: &str,
    ) -> Result<(), StoreError> {
        let pk = member_id_pk(tenant, member_id);
        for item in self.query_range(pk.clone(), "BOARD#", "BOARD#~").await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let (Some(sk), Some(board_id), Some(period_key), Some(score)) = (
                text("SK"),
                text("boardId"),
                text("periodKey"),
                score_of_item(&item),
            ) else {
                continue;
            };
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("PK", s(&pk))
                .key("SK", s(&sk))
                .condition_expression("attribute_exists(PK)")
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            let histogram = self.histogram_update(
                tenant,
                &board_id,
                &period_key,
                board_shard(member_id),
                Some(score.value),
                None,
                time::now(),
            )?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .transact_items(histogram)
                .send()
                .await;
            if let Err(err) = result {
                // Gone already (an earlier pass): nothing to take back.
                if !condition_failed(&cancellation_reasons(&err), 0) {
                    return Err(classify(err));
                }
            }
        }
        Ok(())
    }
}
