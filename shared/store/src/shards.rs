//! Reading a write-sharded list (`layout::LIST_SHARDS`): one page from each shard, merged newest
//! first (index sort keys are time-ordered ids), at most `limit` long; the cursor position carries
//! where each shard stands, so the next page continues every shard exactly where this one left it.

use aws_sdk_dynamodb::types::AttributeValue;

use domain::cursor::Position;

use super::codec::s;
use super::error::{applied, classify, StoreError};
use super::layout::{sharded_list_pk, tenant_of_key, Index, MEMBERS_SLUG, SHARDED_SLUGS};
use super::queries::{position_of, Condition};
use super::*;

/// Where one shard stands in a list read.
#[derive(Debug, Clone, PartialEq)]
enum ShardStart {
    /// Nothing read yet: from the newest entry.
    Top,
    /// After this index key (PK, SK, index SK; the index PK is the shard's).
    After(Position),
    /// Every entry was read.
    Done,
}

/// The position's spelling of shard `i`: `{i}` = `done`, or `{i}.PK`, `{i}.SK`, `{i}.ISK`.
fn decode(position: Option<Position>, shards: usize) -> Result<Vec<ShardStart>, StoreError> {
    let mut starts = vec![ShardStart::Top; shards];
    let Some(position) = position else {
        return Ok(starts);
    };
    // A page always moves some shard: an empty position was never handed out.
    if position.is_empty() {
        return Err(StoreError::BadCursor);
    }
    for (key, value) in position {
        let (shard, part) = match key.split_once('.') {
            Some((shard, part)) => (shard, Some(part)),
            None => (key.as_str(), None),
        };
        let shard: usize = shard.parse().map_err(|_| StoreError::BadCursor)?;
        let start = starts.get_mut(shard).ok_or(StoreError::BadCursor)?;
        match (part, start) {
            (None, start @ ShardStart::Top) if value == "done" => *start = ShardStart::Done,
            (Some(part @ ("PK" | "SK" | "ISK")), start) => {
                let mut keys = match std::mem::replace(start, ShardStart::Top) {
                    ShardStart::Top => Position::new(),
                    ShardStart::After(keys) => keys,
                    ShardStart::Done => return Err(StoreError::BadCursor),
                };
                keys.insert(part.to_string(), value);
                *start = ShardStart::After(keys);
            }
            _ => return Err(StoreError::BadCursor),
        }
    }
    Ok(starts)
}

fn encode(starts: &[ShardStart]) -> Option<Position> {
    if starts.iter().all(|s| *s == ShardStart::Done) {
        return None;
    }
    let mut position = Position::new();
    for (i, start) in starts.iter().enumerate() {
        match start {
            ShardStart::Top => {}
            ShardStart::Done => {
                position.insert(i.to_string(), "done".into());
            }
            ShardStart::After(keys) => {
                for (part, value) in keys {
                    position.insert(format!("{i}.{part}"), value.clone());
                }
            }
        }
    }
    Some(position)
}

fn string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An index key in a shard's position: the table key and the index sort key.
fn after(index: Index, key: &Position) -> Position {
    ["PK", "SK"]
        .into_iter()
        .filter_map(|name| Some((name.to_string(), key.get(name)?.clone())))
        .chain(
            key.get(index.sk_attribute())
                .map(|v| ("ISK".to_string(), v.clone())),
        )
        .collect()
}

/// One shard's page: its entries (newest first) and where DynamoDB stopped (`None`: the end).
pub(super) struct ShardPage {
    pub entries: Vec<Item>,
    pub next: Option<Position>,
}

/// Merges one page of every shard into the list's page: the newest `limit` entries and where
/// each shard now stands. An entry is only taken while no shard may still hold a newer one: a
/// shard that stopped short of `limit` (a filter left its page sparse) bounds what may be taken.
fn merge(
    index: Index,
    starts: &[ShardStart],
    pages: Vec<Option<ShardPage>>,
    limit: usize,
) -> (Vec<Item>, Vec<ShardStart>) {
    let sk = |item: &Item| string(item, index.sk_attribute()).unwrap_or_default();
    // A shard that stopped short holds only entries older than where it stopped (the last key it
    // scanned): entries at or after the newest such place are safe to take.
    let bound = pages
        .iter()
        .flatten()
        .filter(|p| p.entries.len() < limit)
        .filter_map(|p| p.next.as_ref()?.get(index.sk_attribute()).cloned())
        .max();
    let mut all: Vec<(usize, Item)> = pages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.as_ref()?)))
        .flat_map(|(i, p)| p.entries.iter().map(move |e| (i, e.clone())))
        .filter(|(_, e)| bound.as_ref().is_none_or(|b| sk(e) >= *b))
        .collect();
    all.sort_by_key(|(_, e)| std::cmp::Reverse(sk(e)));
    all.truncate(limit);
    let mut taken = vec![0usize; starts.len()];
    let mut last: Vec<Option<&Item>> = vec![None; starts.len()];
    for (i, e) in &all {
        taken[*i] += 1;
        last[*i] = Some(e);
    }
    let next = starts
        .iter()
        .enumerate()
        .map(|(i, start)| match &pages[i] {
            None => start.clone(),
            // Every entry the shard returned was taken: it stands where DynamoDB stopped.
            Some(page) if taken[i] == page.entries.len() => match &page.next {
                None => ShardStart::Done,
                Some(next) => ShardStart::After(after(index, next)),
            },
            Some(_) => match last[i] {
                None => start.clone(),
                Some(e) => ShardStart::After(after(index, &position_of(e))),
            },
        })
        .collect();
    let items = all.into_iter().map(|(_, e)| e).collect();
    (items, next)
}

impl Store {
    /// One page of a list spread over `pks` (index partitions), newest first. A single
    /// partition is read as it always was (its cursor position is the plain index key).
    pub(super) async fn query_index_shards(
        &self,
        index: Index,
        pks: Vec<String>,
        conditions: &[Condition],
        limit: usize,
        start: Option<Position>,
    ) -> Result<(Vec<Item>, Option<Position>), StoreError> {
        if let [pk] = pks.as_slice() {
            return self
                .query_index(index, pk.clone(), conditions, limit, start)
                .await;
        }
        let starts = decode(start, pks.len())?;
        let reads = pks.iter().zip(&starts).map(|(pk, start)| async move {
            let position = match start {
                ShardStart::Done => return Ok(None),
                ShardStart::Top => None,
                ShardStart::After(keys) => {
                    let mut full = Position::new();
                    for (part, value) in keys {
                        let name = match part.as_str() {
                            "ISK" => index.sk_attribute(),
                            other => other,
                        };
                        full.insert(name.to_string(), value.clone());
                    }
                    full.insert(index.pk_attribute().to_string(), pk.clone());
                    Some(full)
                }
            };
            let (entries, next) = self
                .query_index_entries(index, pk.clone(), conditions, limit, position)
                .await?;
            Ok::<_, StoreError>(Some(ShardPage { entries, next }))
        });
        let pages = futures_util::future::try_join_all(reads).await?;
        let (entries, next) = merge(index, &starts, pages, limit);
        Ok((self.items_of(entries).await?, encode(&next)))
    }
}

/// Where an item listed before the lists were sharded belongs now: `T#…#LIST#{slug}` of a sharded
/// slug (or `T#…#MEMBERS`) → the shard of its id. `None` for every other GSI1 key.
fn resharded(gsi1pk: &str, id: &str) -> Option<String> {
    let (prefix, slug) = match gsi1pk.strip_suffix("#MEMBERS") {
        Some(prefix) => (prefix, MEMBERS_SLUG),
        None => {
            let (prefix, slug) = gsi1pk.rsplit_once("#LIST#")?;
            (prefix, SHARDED_SLUGS.into_iter().find(|s| *s == slug)?)
        }
    };
    let tenant = tenant_of_key(prefix).ok()?;
    (tenant.key_prefix() == prefix).then(|| sharded_list_pk(&tenant, slug, id))
}

impl Store {
    /// Moves every item listed before the lists were sharded into its shard (one conditional
    /// update each: safe to run again, or while the API runs). Returns how many moved.
    pub async fn reshard_lists(&self) -> Result<usize, StoreError> {
        let mut moved = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("attribute_exists(GSI1PK)")
                .projection_expression("PK, SK, GSI1PK, GSI1SK")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                let (Some(pk), Some(sk), Some(old), Some(id)) = (
                    string(&item, "PK"),
                    string(&item, "SK"),
                    string(&item, "GSI1PK"),
                    string(&item, "GSI1SK"),
                ) else {
                    continue;
                };
                let Some(new) = resharded(&old, &id) else {
                    continue;
                };
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("PK", s(pk))
                    .key("SK", s(sk))
                    .update_expression("SET GSI1PK = :new")
                    .condition_expression("GSI1PK = :old")
                    .expression_attribute_values(":new", s(new))
                    .expression_attribute_values(":old", s(old))
                    .send()
                    .await
                    .map_err(classify);
                // A changed or deleted item meanwhile was written by the sharded code: skip it.
                if applied(result)? {
                    moved += 1;
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(moved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(shard: usize, id: &str) -> Item {
        let s = |v: &str| AttributeValue::S(v.to_string());
        Item::from([
            ("PK".to_string(), s(&format!("T#a#live#LOG#{id}"))),
            ("SK".to_string(), s("LOG")),
            ("GSI1PK".to_string(), s(&format!("T#a#live#LIST#x#{shard}"))),
            ("GSI1SK".to_string(), s(id)),
        ])
    }

    fn ids(items: &[Item]) -> Vec<String> {
        items.iter().map(|e| string(e, "GSI1SK").unwrap()).collect()
    }

    /// Pages the merge over in-memory shards (each sorted newest first) the way the store does,
    /// with DynamoDB's `limit` per shard query and an optional filter that hides some entries.
    fn read_all(shards: &[Vec<&str>], limit: usize, hidden: &[&str]) -> Vec<String> {
        let mut starts = vec![ShardStart::Top; shards.len()];
        let mut out = Vec::new();
        for _ in 0..1000 {
            let pages = shards
                .iter()
                .enumerate()
                .map(|(i, ids)| {
                    let from = match &starts[i] {
                        ShardStart::Done => return None,
                        ShardStart::Top => 0,
                        ShardStart::After(k) => {
                            ids.iter().position(|id| *id == k["ISK"]).unwrap() + 1
                        }
                    };
                    // Scan `limit` entries, as a filtered Query does, keeping the visible ones.
                    let scanned = &ids[from..ids.len().min(from + limit)];
                    let entries = scanned
                        .iter()
                        .filter(|id| !hidden.contains(id))
                        .map(|id| entry(i, id))
                        .collect();
                    let next = (from + limit < ids.len())
                        .then(|| position_of(&entry(i, scanned[scanned.len() - 1])));
                    Some(ShardPage { entries, next })
                })
                .collect();
            let (page, next) = merge(Index::Gsi1, &starts, pages, limit);
            assert!(page.len() <= limit);
            out.extend(ids(&page));
            let position = encode(&next);
            match position {
                None => return out,
                Some(p) => starts = decode(Some(p), shards.len()).unwrap(),
            }
        }
        panic!("the list never ended");
    }

    #[test]
    fn pages_of_merged_shards_list_everything_once_newest_first() {
        let shards = vec![
            vec!["09", "05", "02"],
            vec!["08", "07", "06", "01"],
            vec![],
            vec!["04", "03"],
        ];
        let mut expected: Vec<String> = shards.concat().iter().map(|s| s.to_string()).collect();
        expected.sort_by(|a, b| b.cmp(a));
        for limit in 1..=10 {
            assert_eq!(read_all(&shards, limit, &[]), expected, "limit {limit}");
        }
        // A filter leaves pages sparse: still every visible entry, once, in order.
        let hidden = ["08", "07", "05", "04"];
        let visible: Vec<String> = expected
            .iter()
            .filter(|id| !hidden.contains(&id.as_str()))
            .cloned()
            .collect();
        for limit in 1..=10 {
            assert_eq!(read_all(&shards, limit, &hidden), visible, "limit {limit}");
        }
    }

    #[test]
    fn items_listed_before_sharding_move_to_the_shard_of_their_id() {
        let t = domain::tenant::Tenant::new("acc", domain::tenant::Environment::Live);
        assert_eq!(
            resharded("T#acc#live#LIST#streak_log", "id-1"),
            Some(sharded_list_pk(&t, "streak_log", "id-1"))
        );
        assert_eq!(
            resharded("T#acc#live#MEMBERS", "m"),
            Some(sharded_list_pk(&t, MEMBERS_SLUG, "m"))
        );
        // Already sharded, or lists that stay one partition, or not a tenant's: left alone.
        assert_eq!(
            resharded(&sharded_list_pk(&t, "streak_log", "x"), "x"),
            None
        );
        assert_eq!(resharded("T#acc#live#LIST#streak", "p"), None);
        assert_eq!(resharded("T#acc#live#LIST#webhook_endpoint", "w"), None);
        assert_eq!(resharded("ACCOUNTS", "a"), None);
        assert_eq!(resharded("WEBHOOKS_DUE", "d"), None);
    }

    #[test]
    fn a_position_that_is_not_ours_is_a_bad_cursor() {
        let bad = |pairs: &[(&str, &str)]| {
            let position: Position = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            decode(Some(position), 8)
        };
        assert!(bad(&[("8", "done")]).is_err(), "no shard 8");
        assert!(bad(&[("x", "done")]).is_err());
        assert!(bad(&[("1", "maybe")]).is_err());
        assert!(
            bad(&[("1.GSI1PK", "T#other")]).is_err(),
            "the shard's PK is never taken from a cursor"
        );
        assert!(bad(&[("1", "done"), ("1.PK", "p")]).is_err());
        assert!(bad(&[("PK", "p")]).is_err(), "an unsharded position");
        assert!(bad(&[]).is_err());
        let ok = bad(&[("0", "done"), ("3.PK", "p"), ("3.SK", "s"), ("3.ISK", "i")]).unwrap();
        assert_eq!(ok[0], ShardStart::Done);
        assert!(matches!(&ok[3], ShardStart::After(k) if k.len() == 3));
        assert_eq!(encode(&ok).map(|p| decode(Some(p), 8).unwrap()), Some(ok));
    }
}
