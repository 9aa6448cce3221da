//! The performance goals the project has set itself, each a ratio of two contenders measured in
//! the same run. A goal is met only when the whole 95% interval of the paired ratio clears it,
//! missed when the whole interval is below it, and undecided otherwise.

use crate::cases::Case;
use crate::report::StoreResults;
use crate::stats::{Estimate, paired_speed};

pub struct Goal {
    pub store: &'static str,
    pub case: Case,
    pub contender: &'static str,
    pub against: &'static str,
    /// The least speed of `contender` relative to `against` (their time ratio).
    pub at_least: f64,
    /// Where the goal comes from.
    pub source: &'static str,
}

pub const GOALS: &[Goal] = &[
    Goal {
        store: "postgres",
        case: Case::Sequential,
        contender: "eventsmith",
        against: "raw tokio-postgres",
        at_least: 0.85,
        source: "issue 7",
    },
    Goal {
        store: "postgres",
        case: Case::Sequential,
        contender: "eventsmith",
        against: "cqrs-es",
        at_least: 2.0,
        source: "issue 7",
    },
    Goal {
        store: "postgres",
        case: Case::Concurrent,
        contender: "eventsmith",
        against: "raw tokio-postgres",
        at_least: 1.0,
        source: "issue 7",
    },
    Goal {
        store: "postgres",
        case: Case::Load,
        contender: "eventsmith",
        against: "raw tokio-postgres",
        at_least: 1.0 / 1.2,
        source: "issue 7 (within 1.2x raw time)",
    },
    Goal {
        store: "postgres",
        case: Case::Load,
        contender: "eventsmith",
        against: "cqrs-es",
        at_least: 3.0,
        source: "issue 7",
    },
    Goal {
        store: "postgres",
        case: Case::Import,
        contender: "eventsmith",
        against: "raw tokio-postgres, one COPY",
        at_least: 0.8,
        source: "issues 7, 14",
    },
    Goal {
        store: "postgres",
        case: Case::CatchUp,
        contender: "eventsmith",
        against: "raw tokio-postgres",
        at_least: 0.8,
        source: "issue 13",
    },
    Goal {
        store: "sqlite",
        case: Case::Load,
        contender: "eventsmith",
        against: "raw rusqlite",
        at_least: 0.85,
        source: "issue 7",
    },
    Goal {
        store: "sqlite",
        case: Case::Import,
        contender: "eventsmith",
        against: "raw rusqlite",
        at_least: 0.85,
        source: "issue 7",
    },
    Goal {
        store: "sqlite",
        case: Case::CatchUp,
        contender: "eventsmith",
        against: "raw rusqlite",
        at_least: 0.8,
        source: "issue 13",
    },
    Goal {
        store: "postgres",
        case: Case::Projections,
        contender: "eventsmith",
        against: "eventsmith, no projections",
        at_least: 0.9,
        source: "issue 13",
    },
    Goal {
        store: "sqlite",
        case: Case::Projections,
        contender: "eventsmith",
        against: "eventsmith, no projections",
        at_least: 0.9,
        source: "issue 13",
    },
    Goal {
        store: "memory",
        case: Case::Projections,
        contender: "eventsmith",
        against: "eventsmith, no projections",
        at_least: 0.9,
        source: "issue 13",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    Undecided,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met: the interval clears it",
            Verdict::Missed => "missed: the whole interval is below it",
            Verdict::Undecided => "undecided: the interval straddles it",
        }
    }
}

impl Goal {
    pub fn describe(&self) -> String {
        format!("{} {}: {} ≥ {:.2}x {}", self.store, self.case, self.contender, self.at_least, self.against)
    }

    /// The goal's paired ratio in `stores` and its verdict, if both contenders ran.
    pub fn evaluate(&self, stores: &[StoreResults]) -> Option<(Estimate, Verdict)> {
        let store = stores.iter().find(|store| store.store == self.store)?;
        let case = store.cases.iter().find(|case| case.case == self.case)?;
        let times = |name: &str| case.contenders.iter().find(|runs| runs.name == name).map(|runs| runs.times());
        let estimate = Estimate::of(&paired_speed(&times(self.contender)?, &times(self.against)?));
        let verdict = if estimate.clears(self.at_least) {
            Verdict::Met
        } else if estimate.misses(self.at_least) {
            Verdict::Missed
        } else {
            Verdict::Undecided
        };
        Some((estimate, verdict))
    }
}
