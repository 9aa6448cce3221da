//! The cases of the benchmark and their sizes.

use std::fmt;

/// The cases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// (a) One-event commands, one after the other, each on another account.
    Sequential,
    /// (b) Tasks at once, each on accounts of its own.
    Concurrent,
    /// (c) Tasks at once on a few accounts: conflicts, retried until they pass.
    Contended,
    /// (d) Load and fold a long-lived account.
    Load,
    /// (e) The same, from a snapshot.
    LoadSnapshot,
    /// (f) Import events into many streams.
    Import,
    /// (g) Catch a projection up from the start of the log.
    CatchUp,
    /// (h) Case (a) with six projections updated by every command.
    Projections,
}

impl Case {
    pub const ALL: [Case; 8] = [
        Case::Sequential,
        Case::Concurrent,
        Case::Contended,
        Case::Load,
        Case::LoadSnapshot,
        Case::Import,
        Case::CatchUp,
        Case::Projections,
    ];

    pub fn letter(self) -> char {
        match self {
            Case::Sequential => 'a',
            Case::Concurrent => 'b',
            Case::Contended => 'c',
            Case::Load => 'd',
            Case::LoadSnapshot => 'e',
            Case::Import => 'f',
            Case::CatchUp => 'g',
            Case::Projections => 'h',
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Case::Sequential => "sequential",
            Case::Concurrent => "concurrent",
            Case::Contended => "contended",
            Case::Load => "load",
            Case::LoadSnapshot => "snapshot",
            Case::Import => "import",
            Case::CatchUp => "catch-up",
            Case::Projections => "projections",
        }
    }

    pub fn parse(text: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|case| text == case.key() || text.chars().eq([case.letter()]))
    }

    /// Whether the case is made of commands (where the app's aggregate cache matters).
    pub fn is_commands(self) -> bool {
        matches!(self, Case::Sequential | Case::Concurrent | Case::Contended | Case::Projections)
    }

    /// What one operation of the case is, for its throughput.
    pub fn unit(self) -> &'static str {
        match self {
            Case::Sequential | Case::Concurrent | Case::Contended | Case::Projections => "commands",
            Case::Load | Case::LoadSnapshot => "loads",
            Case::Import | Case::CatchUp => "events",
        }
    }

    /// How many operations one run of the case makes.
    pub fn operations(self, sizes: &Sizes) -> u64 {
        match self {
            Case::Sequential | Case::Projections => sizes.aggregates,
            Case::Concurrent => sizes.tasks * sizes.commands_per_task,
            Case::Contended => sizes.tasks * sizes.contended_per_task,
            Case::Load | Case::LoadSnapshot => sizes.loads_per_run,
            Case::Import => sizes.import_streams() * sizes.import_batch,
            Case::CatchUp => sizes.catch_up_streams * sizes.catch_up_per_stream(),
        }
    }

    pub fn title(self, sizes: &Sizes) -> String {
        match self {
            Case::Sequential => format!("(a) sequential commands, {} aggregates", sizes.aggregates),
            Case::Concurrent => format!(
                "(b) {} tasks, disjoint aggregates, {} commands",
                sizes.tasks,
                sizes.tasks * sizes.commands_per_task
            ),
            Case::Contended => format!(
                "(c) {} tasks on {} aggregates, {} commands",
                sizes.tasks,
                sizes.contended_aggregates,
                sizes.tasks * sizes.contended_per_task
            ),
            Case::Load => format!("(d) load a {}-event aggregate", sizes.history),
            Case::LoadSnapshot => format!("(e) load a {}-event aggregate from a snapshot", sizes.history),
            Case::Import => format!("(f) import {} events", sizes.import_events),
            Case::CatchUp => format!("(g) catch up {} events", sizes.catch_up_events),
            Case::Projections => format!(
                "(h) sequential commands with {} projections, {} aggregates",
                sizes.projections, sizes.aggregates
            ),
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}) {}", self.letter(), self.key())
    }
}

/// The sizes of the cases; `--scale` multiplies the counts.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub aggregates: u64,
    pub tasks: u64,
    pub commands_per_task: u64,
    pub accounts_per_task: u64,
    pub contended_aggregates: u64,
    pub contended_per_task: u64,
    pub history: u64,
    pub loads_per_run: u64,
    pub import_events: u64,
    pub import_batch: u64,
    pub catch_up_events: u64,
    pub catch_up_streams: u64,
    /// Projections registered in case (h).
    pub projections: u64,
    /// Attempts per command before it counts as failed (which stops the run).
    pub max_attempts: u64,
    /// Connections in every contender's pool (the same for all).
    pub pool_size: u64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            aggregates: 500,
            tasks: 8,
            commands_per_task: 100,
            accounts_per_task: 4,
            contended_aggregates: 4,
            contended_per_task: 25,
            history: 10_000,
            loads_per_run: 10,
            import_events: 100_000,
            import_batch: 1_000,
            catch_up_events: 100_000,
            catch_up_streams: 1_000,
            projections: 6,
            max_attempts: 1_000,
            pool_size: 8,
        }
    }
}

impl Sizes {
    pub fn scaled(factor: f64) -> Sizes {
        let base = Sizes::default();
        let scale = |value: u64, least: u64| ((value as f64 * factor).round() as u64).max(least);
        Sizes {
            aggregates: scale(base.aggregates, 4),
            commands_per_task: scale(base.commands_per_task, 4) / 4 * 4,
            contended_per_task: scale(base.contended_per_task, 2),
            // Snapshots are taken every 100 events, when a commit reaches a multiple of 100:
            // the history stays a multiple of 100, and longer than one interval.
            history: scale(base.history, 300) / 100 * 100,
            loads_per_run: scale(base.loads_per_run, 2),
            import_events: scale(base.import_events, 2_000),
            catch_up_events: scale(base.catch_up_events, 2_000),
            catch_up_streams: scale(base.catch_up_streams, 20),
            ..base
        }
    }

    pub fn import_streams(&self) -> u64 {
        self.import_events.div_ceil(self.import_batch)
    }

    pub fn catch_up_per_stream(&self) -> u64 {
        self.catch_up_events / self.catch_up_streams
    }
}
