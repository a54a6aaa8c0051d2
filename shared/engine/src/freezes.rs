//! Streak freezes (SPEC §10): what a member holds at each moment, from the grants and the
//! freezes a run earns, capped at the program's `maxFreezes`.

use chrono::{DateTime, Utc};
use domain::progress::CountedLog;
use rust_decimal::prelude::ToPrimitive;

/// A streak program's freeze rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FreezeRule {
    /// `maxFreezes`: the most a member holds (0: no freezes; grants are not kept).
    pub max: u32,
    /// `freezeEarnEveryPeriods`: a run earns one for each that many completed periods.
    pub earn_every: Option<u32>,
}

/// A grant of freezes: `activity_at` is `grantedAt`, `value` the count (a grant is stored and
/// de-duplicated like a log).
pub type FreezeGrant = CountedLog;

/// The freezes a member holds as time moves forward: grants are taken in time order (each id
/// once), never above `max`.
pub(crate) struct Holdings<'a> {
    rule: FreezeRule,
    grants: Vec<&'a FreezeGrant>,
    next: usize,
    pub(crate) held: u32,
}

impl<'a> Holdings<'a> {
    pub(crate) fn new(rule: FreezeRule, grants: &'a [FreezeGrant]) -> Self {
        let mut unique: Vec<&FreezeGrant> = grants.iter().collect();
        unique.sort_by(|a, b| (a.activity_at, &a.id).cmp(&(b.activity_at, &b.id)));
        unique.dedup_by(|a, b| a.id == b.id);
        // The same id at two moments cannot happen (grants are immutable); keep the first.
        let mut seen = std::collections::HashSet::new();
        unique.retain(|g| seen.insert(g.id.as_str()));
        Holdings {
            rule,
            grants: unique,
            next: 0,
            held: 0,
        }
    }

    /// Takes every grant made before `at`.
    pub(crate) fn take_grants_before(&mut self, at: DateTime<Utc>) {
        while let Some(grant) = self.grants.get(self.next).filter(|g| g.activity_at < at) {
            let count = grant.value.to_u32().unwrap_or(0);
            self.held = self.held.saturating_add(count).min(self.rule.max);
            self.next += 1;
        }
    }

    /// After a run's `completed`-th completed period: one more freeze if the rule earns one then
    /// and the member holds fewer than the most. Whether one was earned.
    pub(crate) fn earn_after(&mut self, completed: u32) -> bool {
        let earns = self
            .rule
            .earn_every
            .is_some_and(|n| n > 0 && completed.is_multiple_of(n));
        if earns && self.held < self.rule.max {
            self.held += 1;
            return true;
        }
        false
    }

    /// Uses one freeze if any is held.
    pub(crate) fn consume(&mut self) -> bool {
        if self.held == 0 {
            return false;
        }
        self.held -= 1;
        true
    }
}
