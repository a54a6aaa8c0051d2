//! The programs a batch touches, read once per batch, with the rule each one applies.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use domain::program::Program;
use domain::tenant::Tenant;
use engine::{Aggregation, AggregationMethod, ChallengeRule, PeriodKind, StreakRule};
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

/// The programs of one batch, each read once however many members log to it (members are
/// processed concurrently: the first asks, the others wait for its answer).
#[derive(Default)]
pub(super) struct Programs(tokio::sync::Mutex<HashMap<(String, String), ProgramCell>>);

/// One program's context, read once (`None`: no such program).
pub(super) type ProgramCell = Arc<OnceCell<Option<Arc<ProgramContext>>>>;

impl Programs {
    pub(super) async fn get(
        &self,
        store: &Store,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Option<Arc<ProgramContext>>, StoreError> {
        let cell = self
            .0
            .lock()
            .await
            .entry((tenant.key_prefix(), id.to_string()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let Some(program) = store.get_program(tenant, id).await? else {
                return Ok(None);
            };
            let milestones = store
                .live_milestones(tenant, id)
                .await?
                .into_iter()
                .map(|m| (m.id.clone(), m))
                .collect();
            Ok(Some(Arc::new(ProgramContext {
                program,
                milestones,
            })))
        })
        .await
        .cloned()
    }
}
