//! The programs a batch touches, read once per batch, with the rule each one applies; and what
//! earlier batches of this instance read, reused while logs name the same program version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use domain::program::Program;
use domain::tenant::Tenant;
use engine::{Aggregation, AggregationMethod, ChallengeRule, FreezeRule, PeriodKind, StreakRule};
use store::{Store, StoreError};

/// The engine's view of a program for one member.
pub(super) enum Rule {
    Streak(StreakRule),
    Challenge(ChallengeRule),
}

pub(super) fn rule_of(program: &Program, member_tz: Option<&str>) -> Option<Rule> {
    let tz = member_tz
        .or(program.timezone.as_deref())
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC);
    let aggregation = Aggregation {
        method: program.aggregation_method.unwrap_or(AggregationMethod::Sum),
        period: program.aggregation_period.unwrap_or(PeriodKind::Daily),
        tz,
    };
    let target = program.completion_target_value?.decimal();
    match program.kind {
        domain::program::ProgramKind::Streak => Some(Rule::Streak(StreakRule {
            aggregation,
            period_target: program.aggregation_target_value?.decimal(),
            completion_target: u32::try_from(rust_decimal::prelude::ToPrimitive::to_u64(&target)?)
                .ok()?,
            at_risk_lead: chrono::Duration::minutes(i64::from(program.at_risk_lead())),
            freezes: FreezeRule {
                max: program.max_freezes.unwrap_or(0),
                earn_every: program.freeze_earn_every_periods,
            },
        })),
        domain::program::ProgramKind::Challenge => Some(Rule::Challenge(ChallengeRule {
            aggregation,
            target,
        })),
        domain::program::ProgramKind::Milestone => None,
    }
}

/// A program and its live milestones, keyed by id.
pub(super) struct ProgramContext {
    pub(super) program: Program,
    pub(super) milestones: HashMap<String, Program>,
}

/// The programs of one batch, each read once per version however many members log to it
/// (members are processed concurrently: the first asks, the others wait for its answer).
#[derive(Default)]
pub(super) struct Programs(tokio::sync::Mutex<HashMap<BatchKey, ProgramCell>>);

/// Tenant key prefix, program id, the version the logs name.
type BatchKey = (String, String, Option<String>);

/// One program's context, read once (`None`: no such program).
pub(super) type ProgramCell = Arc<OnceCell<Option<Arc<ProgramContext>>>>;

/// Contexts earlier batches read, by table, tenant and program id. A log names the program's
/// version the API accepted it under (`Program::version`: its own fields and its milestones'
/// revision); while it matches, the program and its milestones are not read again. A log
/// without a version, or of another one, reads them. Bounded like `app::cache::Recent`.
static READ_BEFORE: Mutex<Option<HashMap<InstanceKey, Arc<ProgramContext>>>> = Mutex::new(None);

/// Table, tenant key prefix, program id.
type InstanceKey = (String, String, String);
const READ_BEFORE_MAX: usize = 1000;

fn read_before(key: &InstanceKey, version: &str) -> Option<Arc<ProgramContext>> {
    let cache = READ_BEFORE.lock().unwrap_or_else(|e| e.into_inner());
    let context = cache.as_ref()?.get(key)?;
    (context.program.version() == version).then(|| context.clone())
}

fn remember(key: InstanceKey, context: Arc<ProgramContext>) {
    let mut cache = READ_BEFORE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= READ_BEFORE_MAX {
        cache.clear();
    }
    cache.insert(key, context);
}

impl Programs {
    /// Program `id` with its live milestones, as of `version` if the logs name one.
    pub(super) async fn get(
        &self,
        store: &Store,
        tenant: &Tenant,
        id: &str,
        version: Option<&str>,
    ) -> Result<Option<Arc<ProgramContext>>, StoreError> {
        let cell = self
            .0
            .lock()
            .await
            .entry((
                tenant.key_prefix(),
                id.to_string(),
                version.map(str::to_string),
            ))
            .or_default()
            .clone();
        let key = (
            store.table().to_string(),
            tenant.key_prefix(),
            id.to_string(),
        );
        cell.get_or_try_init(|| async {
            if let Some(context) = version.and_then(|v| read_before(&key, v)) {
                return Ok(Some(context));
            }
            let Some(program) = store.get_program(tenant, id).await? else {
                return Ok(None);
            };
            let milestones = store
                .live_milestones(tenant, id)
                .await?
                .into_iter()
                .map(|m| (m.id.clone(), m))
                .collect();
            let context = Arc::new(ProgramContext {
                program,
                milestones,
            });
            remember(key, context.clone());
            Ok(Some(context))
        })
        .await
        .cloned()
    }
}
