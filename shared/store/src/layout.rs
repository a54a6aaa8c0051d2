//! The table's key layout: every partition and sort key the store writes, in one place.
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | API key | `KEY#{apiKey}` | `KEY` | |
//! | account | `ACCOUNT#{accountId}` | `ACCOUNT` | |
//! | member | `T#{acct}#{env}#EXT#{externalId}` | `MEMBER` | `T#{acct}#{env}#LIST#account_user#{shard}` / member id |
//! | member id → externalId | `T#{acct}#{env}#MEMBER#{id}` | `ID` | |
//! | activity log | `T#{acct}#{env}#LOG#{programId}#{uniqueIdentifier}` | `LOG` | GSI1 `…#LIST#{slug}#{shard}` / id; GSI2 `…#MEMBER#{memberId}#{slug}` / id |
//! | user-journey event (key: its event id) | `T#{acct}#{env}#JEVENT#{eventId}` | `JEVENT` | GSI2 `…#MEMBER#{memberId}#journey_event` / `{occurredAt}#{eventId}` |
//! | counted logs of a period | `T#{acct}#{env}#MEMBER#{memberId}` | `AGG#{programId}#{periodDay}` | |
//! | points entry (key: its idempotency key; a reward credit's is the reward's id) | `T#{acct}#{env}#POINTS#U#{uniqueIdentifier}` or `…#POINTS#R#{rewardId}` | `POINTS` | GSI1 `…#LIST#points_log#{shard}` / id; GSI2 `…#MEMBER#{memberId}#points_log` / id |
//! | a member's points balance (the sum of its entries, written with each) | member's partition | `POINTS` | |
//! | a member's freeze grants of a streak | `T#{acct}#{env}#MEMBER#{memberId}` | `FREEZES#{programId}` | |
//! | progress record (streak run, challenge window; the last one carries the processor's `ver`) | member's partition | `PROGRESS#{programId}#{run or window key}` | GSI1 (sharded), GSI2 |
//! | reward | member's partition | `REWARD#{milestoneId}#{run or window key}` | GSI1 (sharded), GSI2 |
//! | marker: the member has progress in the program (makes first commits collide) | member's partition | `STATE#{programId}` | |
//! | program (streak, challenge, milestone) | `T#{acct}#{env}#PROGRAM#{id}` | `PROGRAM` | `T#{acct}#{env}#LIST#{slug}` / id |
//! | webhook endpoint | `T#{acct}#{env}#WEBHOOK#{id}` | `WEBHOOK` | `T#{acct}#{env}#LIST#webhook_endpoint` / id |
//! | webhook delivery (one event to one endpoint) | the endpoint's partition | `DELIVERY#{eventId}` | GSI2 `…#WEBHOOK#{endpointId}#deliveries` / `{createdAt}#{eventId}`; while pending GSI1 `WEBHOOKS_DUE` / `{nextAttemptAt}#{PK}#{SK}` |
//! | leaderboard | `T#{acct}#{env}#BOARD#{id}` | `BOARD` | `T#{acct}#{env}#LIST#leaderboard` / id |
//! | a member's score on a board in a period | member's partition | `BOARD#{boardId}#{periodKey}` | GSI4 `…#BOARD#{boardId}#{periodKey}#{shard 0–15 of the member}` / rank key (value descending, then `reachedAt`, then member id) |
//! | a board period announced by the clock (`leaderboard.finished`: top 10, participants) | board's partition | `FINISHED#{periodKey}` | |
//! | a board period's histogram, one per shard (participants, counts by value bucket, `updatedAt`) | `T#{acct}#{env}#BOARD#{boardId}#{periodKey}#H{shard}` | `HIST` | |
//! | due entry of a progress record in progress (sparse; the record's own attributes) | — | — | GSI3 `DUE#{due moment's UTC hour}#{shard}` / `dueAt` (the next clock action: an at-risk moment, or the deadline `breaksAt`, a run's or a window's end) |
//! | an `Idempotency-Key` and the answer it got (expires: TTL `expiresAt`) | `T#{acct}#{env}#IDEMPOTENCY#{key}` | `IDEMPOTENCY` | |
//!
//! Members are keyed by tenant + `externalId` (SPEC §8), so uniqueness is the primary key itself and
//! the hot track-user path is one conditional write. The id item lets `{id}` lookups stay strongly
//! consistent. The member item also carries the processor's `activity` (analytics) and a revision
//! `rev` raised by every write, which the processor's read-modify-write is conditional on.
//!
//! `{shard}` is `shard_of(id)`, 0–7: the lists that grow with activity are write-sharded
//! (`LIST_SHARDS`); programs and webhook endpoints, written by an operator, are one partition.
//!
//! Indexes project keys and the attributes list filters test (`template.yaml`), so updates that
//! leave those alone write no index entry; lists read their items by key after the index.

use domain::tenant::{Environment, Tenant};

/// DynamoDB refuses a partition key over 2,048 bytes and a sort key over 1,024 with an error.
pub(super) const MAX_PK_BYTES: usize = 2048;
pub(super) const MAX_SK_BYTES: usize = 1024;

/// Whether a key can exist in the table at all: a longer one names no item (a lookup of it is a
/// miss, not a request DynamoDB refuses).
pub(super) fn can_exist(pk: &str, sk: &str) -> bool {
    pk.len() <= MAX_PK_BYTES && sk.len() <= MAX_SK_BYTES
}

pub(super) const KEY_SK: &str = "KEY";
pub(super) const ACCOUNT_SK: &str = "ACCOUNT";

pub(super) fn key_pk(api_key: &str) -> String {
    format!("KEY#{api_key}")
}

pub(super) fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}

/// The GSI1 partition that lists accounts (operators only; never a tenant's).
pub(super) const ACCOUNTS_LIST_PK: &str = "ACCOUNTS";

pub(super) fn member_pk(tenant: &Tenant, external_id: &str) -> String {
    format!("{}#EXT#{external_id}", tenant.key_prefix())
}

pub(super) fn member_id_pk(tenant: &Tenant, id: &str) -> String {
    format!("{}#MEMBER#{id}", tenant.key_prefix())
}

pub(super) fn program_pk(tenant: &Tenant, id: &str) -> String {
    format!("{}#PROGRAM#{id}", tenant.key_prefix())
}

/// GSI1 partition listing one kind of record of a tenant that is written rarely (programs,
/// webhook endpoints): one partition.
pub(super) fn list_index_pk(tenant: &Tenant, slug: &str) -> String {
    format!("{}#LIST#{slug}", tenant.key_prefix())
}

/// Shards of a tenant-wide list that grows with activity (logs, progress records, rewards,
/// members). One partition takes about 1,000 writes a second and DynamoDB cannot split one whose
/// sort key only grows, so each such list is spread over this many GSI1 partitions by a hash of
/// the record's id, and read by merging them (docs/BENCHMARKS.md, "Per-tenant ceiling").
pub const LIST_SHARDS: usize = 8;

/// The shard of a record id: FNV-1a (stable across builds and platforms, unlike std's hasher).
pub(super) fn shard_of(id: &str) -> usize {
    shard_in(id, LIST_SHARDS)
}

fn shard_in(id: &str, shards: usize) -> usize {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % shards as u64) as usize
}

/// A board period's scores are spread over this many GSI4 partitions (and histogram items) by a
/// hash of the member: a thousand score changes a second put ~60 on each, and a top page or a
/// rank reads all of them at once.
pub const BOARD_SHARDS: usize = 16;

pub(super) fn board_pk(tenant: &Tenant, id: &str) -> String {
    format!("{}#BOARD#{id}", tenant.key_prefix())
}

pub(super) const BOARD_SK: &str = "BOARD";

/// A board period's announcement (`leaderboard.finished`), in the board's partition: written once.
pub const BOARD_FINISHED_PREFIX: &str = "FINISHED#";
pub(super) const HISTOGRAM_SK: &str = "HIST";

/// The sort key of a member's score item in its partition.
pub(super) fn score_sk(board_id: &str, period_key: &str) -> String {
    format!("BOARD#{board_id}#{period_key}")
}

/// The shard of a member's scores on every board.
pub(super) fn board_shard(member_id: &str) -> usize {
    shard_in(member_id, BOARD_SHARDS)
}

/// GSI4's partition of one shard of a board period.
pub(super) fn board_shard_pk(
    tenant: &Tenant,
    board_id: &str,
    period_key: &str,
    shard: usize,
) -> String {
    format!(
        "{}#BOARD#{board_id}#{period_key}#{shard}",
        tenant.key_prefix()
    )
}

pub(super) fn histogram_pk(
    tenant: &Tenant,
    board_id: &str,
    period_key: &str,
    shard: usize,
) -> String {
    format!(
        "{}#BOARD#{board_id}#{period_key}#H{shard}",
        tenant.key_prefix()
    )
}

/// The GSI1 partition of one shard of a tenant's activity list of one kind.
pub(super) fn list_shard_pk(tenant: &Tenant, slug: &str, shard: usize) -> String {
    format!("{}#LIST#{slug}#{shard}", tenant.key_prefix())
}

/// The slugs whose tenant-wide lists are sharded: what `sharded_list_pk` lists, and what
/// `gamify-admin reshard-lists` moves.
pub(super) const SHARDED_SLUGS: [&str; 8] = [
    "streak_log",
    "challenge_log",
    "streak_freeze",
    domain::points::SLUG,
    "streak_progress",
    "challenge_progress",
    "reward_log",
    MEMBERS_SLUG,
];

/// Where a record of a sharded list is listed: the shard of its id.
pub(super) fn sharded_list_pk(tenant: &Tenant, slug: &str, id: &str) -> String {
    debug_assert!(
        SHARDED_SLUGS.contains(&slug),
        "{slug} is not a sharded list"
    );
    list_shard_pk(tenant, slug, shard_of(id))
}

/// Every shard of a tenant's activity list of one kind, in shard order.
pub(super) fn list_shard_pks(tenant: &Tenant, slug: &str) -> Vec<String> {
    (0..LIST_SHARDS)
        .map(|shard| list_shard_pk(tenant, slug, shard))
        .collect()
}

/// GSI3, the due index: a progress record in progress is listed under the UTC hour of its next
/// clock action (`dueAt`: an at-risk moment, or the deadline, a run's or window's period end), sorted by it, spread over
/// `LIST_SHARDS` partitions by a hash of its key; settled records leave it. The clock's sweep
/// reads the hours that have passed, so its cost follows what is due, never all records.
pub fn due_pk(due_at: &str, pk: &str, sk: &str) -> String {
    let hour = due_at.get(..13).unwrap_or(due_at);
    format!("DUE#{hour}#{}", shard_of(&format!("{pk}#{sk}")))
}

/// The slug members are listed under (GSI1, sharded like activity).
pub(super) const MEMBERS_SLUG: &str = "account_user";

pub(super) const PROGRAM_SK: &str = "PROGRAM";

pub(super) fn idempotency_pk(tenant: &Tenant, key: &str) -> String {
    format!("{}#IDEMPOTENCY#{key}", tenant.key_prefix())
}

pub(super) const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

pub(super) fn webhook_endpoint_pk(tenant: &Tenant, id: &str) -> String {
    format!("{}#WEBHOOK#{id}", tenant.key_prefix())
}

pub(super) const WEBHOOK_ENDPOINT_SK: &str = "WEBHOOK";

pub(super) fn delivery_sk(event_id: &str) -> String {
    format!("DELIVERY#{event_id}")
}

/// GSI2: one endpoint's deliveries, newest first.
pub(super) fn delivery_list_pk(tenant: &Tenant, endpoint_id: &str) -> String {
    format!("{}#WEBHOOK#{endpoint_id}#deliveries", tenant.key_prefix())
}

/// GSI1: every pending delivery of every tenant by when it is due (sparse: only pending ones).
/// One partition: fine while failing endpoints are few; shard it if they are not.
pub(super) const DELIVERIES_DUE_PK: &str = "WEBHOOKS_DUE";
/// The sort key of an activity log item (what the stream processor takes from the stream).
pub const LOG_SK: &str = "LOG";

/// A points entry's sort key, and the balance item's in the member's partition.
pub const POINTS_SK: &str = "POINTS";

/// A points entry's key: its `uniqueIdentifier`, or for a reward credit the reward's id (apart,
/// so no admin entry can take a reward's key).
pub(super) fn points_pk(tenant: &Tenant, entry: &domain::points::PointsEntry) -> String {
    match &entry.reward_id {
        Some(reward_id) => format!("{}#POINTS#R#{reward_id}", tenant.key_prefix()),
        None => format!(
            "{}#POINTS#U#{}",
            tenant.key_prefix(),
            entry.unique_identifier
        ),
    }
}

/// A log's key is its idempotency key: one conditional put makes copies count once.
pub(super) fn log_pk(tenant: &Tenant, program_id: &str, unique_identifier: &str) -> String {
    format!(
        "{}#LOG#{program_id}#{unique_identifier}",
        tenant.key_prefix()
    )
}

/// The sort key of a user-journey event item (what the stream processor takes from the stream).
pub const JOURNEY_EVENT_SK: &str = "JEVENT";

/// An event's key is its event id: one conditional put makes copies count once.
pub(super) fn journey_event_pk(tenant: &Tenant, event_id: &str) -> String {
    format!("{}#JEVENT#{event_id}", tenant.key_prefix())
}

/// Where a list of one kind reads: a member's records (one GSI2 partition) or the tenant's (the
/// GSI1 shards).
pub(super) fn list_partitions(
    tenant: &Tenant,
    slug: &str,
    member_id: Option<&str>,
) -> (Index, Vec<String>) {
    match member_id {
        Some(m) => (Index::Gsi2, vec![member_activity_pk(tenant, m, slug)]),
        None => (Index::Gsi1, list_shard_pks(tenant, slug)),
    }
}

/// The member's own writes listed on GSI2 (what reconciliation replays and the deletion cascade
/// removes besides the member's partition): logs of every kind (freeze grants too),
/// user-journey events and points entries (which the processor passes over).
pub(super) const MEMBER_ACTIVITY_SLUGS: [&str; 5] = [
    "streak_log",
    "challenge_log",
    "streak_freeze",
    domain::journey::EVENT_SLUG,
    domain::points::SLUG,
];

/// GSI2 partition of one member's records of one kind.
pub(super) fn member_activity_pk(tenant: &Tenant, member_id: &str, slug: &str) -> String {
    format!("{}#MEMBER#{member_id}#{slug}", tenant.key_prefix())
}

/// The secondary indexes of the table (see `template.yaml`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Index {
    /// Tenant-wide lists by kind: `T#…#LIST#{slug}[#{shard}]` / id.
    Gsi1,
    /// A member's activity by kind: `T#…#MEMBER#{memberId}#{slug}` / id.
    Gsi2,
}

impl Index {
    pub(super) fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => GSI1,
            Index::Gsi2 => GSI2,
        }
    }

    pub(super) fn pk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1PK",
            Index::Gsi2 => "GSI2PK",
        }
    }

    pub(super) fn sk_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1SK",
            Index::Gsi2 => "GSI2SK",
        }
    }
}

/// A member's counted logs of one program in one period, by the period's first day.
pub(super) fn period_sk(program_id: &str, day: &str) -> String {
    format!("AGG#{program_id}#{day}")
}

/// A member's freeze grants of a streak (SPEC §10), one attribute per grant like a period item.
pub(super) fn freezes_sk(program_id: &str) -> String {
    format!("FREEZES#{program_id}")
}

/// Where a member's progress records of a program start; `~` sorts after every key.
pub(super) fn progress_prefix(program_id: &str) -> String {
    format!("PROGRESS#{program_id}#")
}

/// A progress record: a streak run or a challenge window, by its key.
pub(super) fn progress_sk(program_id: &str, progress_key: &str) -> String {
    format!("{}{progress_key}", progress_prefix(program_id))
}

/// A reward: once per milestone and run or window.
pub(super) fn reward_sk(milestone_id: &str, progress_key: &str) -> String {
    format!("REWARD#{milestone_id}#{progress_key}")
}

/// The marker that a member has progress in a program (makes first commits collide).
pub(super) fn state_sk(program_id: &str) -> String {
    format!("STATE#{program_id}")
}

/// The tenant a tenant's key (`T#{accountId}#{environment}#…`) belongs to: what a stream record
/// of the table says of its owner.
pub fn tenant_of_key(pk: &str) -> Result<Tenant, String> {
    let mut parts = pk.split('#');
    let (Some("T"), Some(account), Some(env)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("unexpected PK {pk}"));
    };
    let environment =
        Environment::parse(env).ok_or_else(|| format!("unexpected environment in {pk}"))?;
    Ok(Tenant::new(account, environment))
}

/// The sort key of a member item (its removal starts the deletion cascade).
pub const MEMBER_SK: &str = "MEMBER";
pub(super) const MEMBER_ID_SK: &str = "ID";
pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";
pub const GSI3: &str = "GSI3";
pub const GSI4: &str = "GSI4";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_key_starts_with_the_tenant_and_reads_back_to_it() {
        let tenant = Tenant::new("acc-1", Environment::Test);
        for key in [
            member_pk(&tenant, "user_1"),
            member_id_pk(&tenant, "m-1"),
            program_pk(&tenant, "p-1"),
            list_index_pk(&tenant, "streak"),
            sharded_list_pk(&tenant, "streak_log", "id-1"),
            log_pk(&tenant, "p-1", "order-1"),
            journey_event_pk(&tenant, "evt-1"),
            member_activity_pk(&tenant, "m-1", "reward_log"),
        ] {
            assert!(key.starts_with("T#acc-1#test#"), "{key}");
            assert_eq!(tenant_of_key(&key), Ok(tenant.clone()), "{key}");
        }
        for foreign in [
            "KEY#ak_live_1",
            "ACCOUNT#a",
            "T#acc",
            "T#acc#prod#EXT#x",
            "",
        ] {
            assert!(tenant_of_key(foreign).is_err(), "{foreign}");
        }
    }

    #[test]
    fn the_layout_spells_each_key_as_the_table_documents() {
        let t = Tenant::new("a", Environment::Live);
        assert_eq!(key_pk("ak_live_1"), "KEY#ak_live_1");
        assert_eq!(account_pk("a"), "ACCOUNT#a");
        assert_eq!(member_pk(&t, "u"), "T#a#live#EXT#u");
        assert_eq!(member_id_pk(&t, "m"), "T#a#live#MEMBER#m");
        assert_eq!(log_pk(&t, "p", "o"), "T#a#live#LOG#p#o");
        assert_eq!(program_pk(&t, "p"), "T#a#live#PROGRAM#p");
        assert_eq!(list_index_pk(&t, "streak"), "T#a#live#LIST#streak");
        assert_eq!(
            list_shard_pk(&t, "reward_log", 7),
            "T#a#live#LIST#reward_log#7"
        );
        assert_eq!(
            member_activity_pk(&t, "m", "reward_log"),
            "T#a#live#MEMBER#m#reward_log"
        );
        assert_eq!(period_sk("p", "2026-11-24"), "AGG#p#2026-11-24");
        assert_eq!(progress_sk("p", "2026-11-24"), "PROGRESS#p#2026-11-24");
        assert!(progress_sk("p", "2026-W48").starts_with(&progress_prefix("p")));
        assert_eq!(reward_sk("ms", "2026-11"), "REWARD#ms#2026-11");
        assert_eq!(state_sk("p"), "STATE#p");
        // A member's activity partition never equals the member's own partition.
        assert_ne!(member_activity_pk(&t, "m", ""), member_id_pk(&t, "m"));
    }

    #[test]
    fn ids_spread_evenly_over_the_shards_and_always_to_the_same_one() {
        let mut counts = [0usize; LIST_SHARDS];
        for _ in 0..8000 {
            counts[shard_of(&domain::ids::new_id())] += 1;
        }
        // 1,000 expected per shard; 4.5 standard deviations either side.
        assert!(
            counts.iter().all(|c| (860..=1140).contains(c)),
            "{counts:?}"
        );
        // Stable: the shard of an id never changes (it is part of stored keys).
        assert_eq!(
            shard_of("01a20be0-7634-727c-bf19-0d670d17a72e"),
            shard_of("01a20be0-7634-727c-bf19-0d670d17a72e")
        );
        assert_eq!(
            shard_of(""),
            (0xcbf2_9ce4_8422_2325_u64 % LIST_SHARDS as u64) as usize
        );
        let t = Tenant::new("a", Environment::Live);
        assert_eq!(
            sharded_list_pk(&t, "streak_log", "x"),
            list_shard_pk(&t, "streak_log", shard_of("x"))
        );
    }

    #[test]
    fn member_activity_is_every_log_kind_and_events() {
        use domain::log::LogKind;
        assert_eq!(
            MEMBER_ACTIVITY_SLUGS,
            [
                LogKind::Streak.slug(),
                LogKind::Challenge.slug(),
                LogKind::Freeze.slug(),
                domain::journey::EVENT_SLUG,
                domain::points::SLUG
            ]
        );
    }

    #[test]
    fn keys_longer_than_dynamodb_takes_cannot_exist() {
        let t = Tenant::new("a", Environment::Live);
        assert!(can_exist(&program_pk(&t, &"p".repeat(1000)), PROGRAM_SK));
        assert!(!can_exist(&program_pk(&t, &"p".repeat(2048)), PROGRAM_SK));
        assert!(!can_exist("T#a", &"s".repeat(MAX_SK_BYTES + 1)));
    }

    #[test]
    fn list_partitions_pick_the_index_and_the_shards() {
        let t = Tenant::new("a", Environment::Live);
        let (index, pks) = list_partitions(&t, "streak_log", None);
        assert!(matches!(index, Index::Gsi1));
        assert_eq!(pks.len(), LIST_SHARDS);
        assert_eq!(pks[3], "T#a#live#LIST#streak_log#3");
        let (index, pks) = list_partitions(&t, "streak_log", Some("m"));
        assert!(matches!(index, Index::Gsi2));
        assert_eq!(pks, ["T#a#live#MEMBER#m#streak_log"]);
        assert_eq!(
            (Index::Gsi1.name(), Index::Gsi2.pk_attribute()),
            ("GSI1", "GSI2PK")
        );
    }
}
