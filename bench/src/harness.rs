//! What every contender implements, the cases and their sizes, and the statistics.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The cases of the benchmark, in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// (a) One-event commands, one after the other, on already opened aggregates.
    Sequential,
    /// (b) 8 tasks at once, each on aggregates of its own.
    Concurrent,
    /// (c) 8 tasks at once on 4 aggregates: conflicts, retried until they pass.
    Contended,
    /// (d) Load and fold a 10,000-event aggregate.
    Load,
    /// (e) The same aggregate, loaded from a snapshot.
    LoadSnapshot,
    /// (f) Import 100,000 events.
    Import,
    /// (g) Catch a projection up from 100,000 events in the global log.
    CatchUp,
}

impl Case {
    pub const ALL: [Case; 7] = [
        Case::Sequential,
        Case::Concurrent,
        Case::Contended,
        Case::Load,
        Case::LoadSnapshot,
        Case::Import,
        Case::CatchUp,
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
        }
    }

    pub fn parse(text: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|case| text == case.key() || text.chars().eq([case.letter()]))
    }

    /// What one operation of the case is, for its throughput.
    pub fn unit(self) -> &'static str {
        match self {
            Case::Sequential | Case::Concurrent | Case::Contended => "commands",
            Case::Load | Case::LoadSnapshot => "loads",
            Case::Import | Case::CatchUp => "events",
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
    /// Attempts per contended command before it counts as failed.
    pub max_attempts: u64,
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
            max_attempts: 1_000,
        }
    }
}

impl Sizes {
    pub fn scaled(factor: f64) -> Sizes {
        let base = Sizes::default();
        let scale = |value: u64, least: u64| ((value as f64 * factor).round() as u64).max(least);
        Sizes {
            aggregates: scale(base.aggregates, 4),
            commands_per_task: scale(base.commands_per_task, 4),
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
}

/// One timed run of one case by one contender.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub elapsed: Duration,
    pub operations: u64,
    /// Conflicts retried (case c).
    pub retries: u64,
    /// Commands that never passed (case c): must stay 0.
    pub failures: u64,
}

/// A library (or a raw driver) running the cases on one store.
pub trait Contender: Send + Sync {
    /// As printed: "eventsmith", "cqrs-es", "raw tokio-postgres", ...
    fn name(&self) -> &str;

    /// Sets the case up: its own tables, and the history it reads (untimed).
    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>>;

    /// One run, timing only the case's own work and checking its result afterwards.
    fn run<'a>(&'a self, case: Case, round: u64, sizes: &'a Sizes) -> BoxFuture<'a, Result<Sample>>;
}

/// Median, min and max of a contender's runs of a case.
#[derive(Debug, Clone)]
pub struct Summary {
    pub contender: String,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub operations: u64,
    pub retries: u64,
    pub failures: u64,
    pub runs: usize,
}

impl Summary {
    pub fn of(contender: &str, samples: &[Sample]) -> Summary {
        let mut times: Vec<Duration> = samples.iter().map(|sample| sample.elapsed).collect();
        times.sort();
        let median = if times.len() % 2 == 1 {
            times[times.len() / 2]
        } else {
            (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2
        };
        Summary {
            contender: contender.to_owned(),
            median,
            min: times[0],
            max: times[times.len() - 1],
            operations: samples[0].operations,
            retries: samples.iter().map(|sample| sample.retries).sum(),
            failures: samples.iter().map(|sample| sample.failures).sum(),
            runs: samples.len(),
        }
    }

    /// Operations per second at the median run.
    pub fn throughput(&self) -> f64 {
        self.operations as f64 / self.median.as_secs_f64()
    }
}

/// Runs `work`, timing it.
pub async fn timed<T>(work: impl Future<Output = Result<T>>) -> Result<(Duration, T)> {
    let started = std::time::Instant::now();
    let value = work.await?;
    Ok((started.elapsed(), value))
}

/// Times `load` run `times` times (at least once) and gives its last result: the load cases.
pub async fn timed_loads<T, Fut>(times: u64, mut load: impl FnMut() -> Fut) -> Result<(Duration, T)>
where
    Fut: Future<Output = Result<T>>,
{
    timed(async {
        let mut last = load().await?;
        for _ in 1..times {
            last = load().await?;
        }
        Ok(last)
    })
    .await
}

/// Adds up the retries and failures of tasks run together, failing with the first error.
pub fn add_counts<E: Into<BoxError>>(results: impl IntoIterator<Item = Result<(u64, u64), E>>) -> Result<(u64, u64)> {
    results.into_iter().try_fold((0, 0), |(retries, failures), result| {
        let (r, f) = result.map_err(Into::into)?;
        Ok((retries + r, failures + f))
    })
}

/// After a contended run: the balances grew by one deposit per command that did not fail.
pub fn check_contended(before: i64, after: i64, operations: u64, failures: u64) -> Result<()> {
    let committed = operations - failures;
    check(after - before == committed as i64, || format!("{} deposits committed, {committed} expected", after - before))
}

/// Fails with `message` unless `condition` holds: the checks after each run.
pub fn check(condition: bool, message: impl FnOnce() -> String) -> Result<()> {
    if condition { Ok(()) } else { Err(message().into()) }
}
