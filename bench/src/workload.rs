//! The harness's side of every case: the setup, the timed work (with its tasks and its conflict
//! retries), and the check of the result after each run. Every contender runs exactly this
//! code; a contender only provides the operations of [`Session`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cases::{Case, Sizes};
use crate::contender::{Outcome, Result, Session};
use crate::domain::{Account, AccountEvent, history_event, history_state};

/// One run of one case by one contender.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub elapsed: Duration,
    /// Conflicts retried (cases b, c; a library may conflict where the data does not).
    pub retries: u64,
}

/// The account `index` of `case` (each contender maps it to a stream of its own).
pub fn account(case: Case, index: impl std::fmt::Display) -> String {
    format!("{}{index}", case.letter())
}

fn concurrent_account(task: u64, slot: u64) -> String {
    account(Case::Concurrent, format!("{task}-{slot}"))
}

fn contended_account(sizes: &Sizes, task: u64, command: u64) -> String {
    account(Case::Contended, (task + command) % sizes.contended_aggregates)
}

/// The events `first..first + count` of `account`'s seeded history.
fn history(account: &str, first: u64, count: u64) -> Vec<AccountEvent> {
    (first..first + count).map(|index| history_event(account, index)).collect()
}

/// Appends `count` events of the seeded history to `account`, in batches.
async fn write_history(session: &dyn Session, account: &str, count: u64, batch: u64) -> Result<()> {
    let mut next = 0;
    while next < count {
        let size = batch.min(count - next);
        session.append(account, next, &history(account, next, size)).await?;
        next += size;
    }
    Ok(())
}

/// Sets `case` up on a fresh session (untimed).
pub async fn set_up(case: Case, session: &dyn Session, sizes: &Sizes) -> Result<()> {
    match case {
        Case::Sequential | Case::Projections => {
            for index in 0..sizes.aggregates {
                session.open(&account(case, index)).await?;
            }
        }
        Case::Concurrent => {
            for task in 0..sizes.tasks {
                for slot in 0..sizes.accounts_per_task {
                    session.open(&concurrent_account(task, slot)).await?;
                }
            }
        }
        Case::Contended => {
            for index in 0..sizes.contended_aggregates {
                session.open(&account(case, index)).await?;
            }
        }
        Case::Load => write_history(session, "d", sizes.history, sizes.import_batch).await?,
        Case::LoadSnapshot => {
            write_history(session, "e", sizes.history - 1, sizes.import_batch).await?;
            session.deposit_and_snapshot("e").await?;
        }
        Case::Import => {}
        Case::CatchUp => {
            let per_stream = sizes.catch_up_per_stream();
            for stream in 0..sizes.catch_up_streams {
                write_history(session, &account(case, stream), per_stream, per_stream).await?;
            }
        }
    }
    session.analyze().await
}

/// Deposits into `account` until a try commits; returns how many conflicted first.
async fn deposit_until_committed(session: &dyn Session, account: &str, max_attempts: u64) -> Result<u64> {
    for attempt in 1..=max_attempts {
        if session.deposit(account).await? == Outcome::Committed {
            return Ok(attempt - 1);
        }
    }
    Err(format!("a deposit into `{account}` conflicted {max_attempts} times in a row").into())
}

/// Runs `commands` tasks at once, task `t` depositing into `account_of(t, i)` for each of its
/// `per_task` commands, each a `tokio` task of its own (the runtime spreads them over its
/// threads); returns the conflicts retried.
async fn in_tasks(
    session: &Arc<dyn Session>,
    sizes: &Sizes,
    per_task: u64,
    account_of: fn(&Sizes, u64, u64) -> String,
) -> Result<u64> {
    let tasks: Vec<_> = (0..sizes.tasks)
        .map(|task| {
            let (session, sizes) = (Arc::clone(session), sizes.clone());
            tokio::spawn(async move {
                let mut retries = 0;
                for command in 0..per_task {
                    let account = account_of(&sizes, task, command);
                    retries += deposit_until_committed(&*session, &account, sizes.max_attempts).await?;
                }
                Ok::<_, crate::contender::BoxError>(retries)
            })
        })
        .collect();
    let mut retries = 0;
    for task in tasks {
        retries += task.await??;
    }
    Ok(retries)
}

/// One run of `case`: its work timed, then its result checked. `run` counts the runs of the
/// case on this session so far, this one included (the untimed warm-up is run 1), which is
/// what the balances must show.
pub async fn run(case: Case, session: &Arc<dyn Session>, sizes: &Sizes, run: u64) -> Result<Sample> {
    let started = Instant::now();
    let mut retries = 0;
    match case {
        Case::Sequential | Case::Projections => {
            for index in 0..sizes.aggregates {
                retries += deposit_until_committed(&**session, &account(case, index), sizes.max_attempts).await?;
            }
        }
        Case::Concurrent => {
            let per_account =
                |sizes: &Sizes, task, command| concurrent_account(task, command % sizes.accounts_per_task);
            retries = in_tasks(session, sizes, sizes.commands_per_task, per_account).await?;
        }
        Case::Contended => retries = in_tasks(session, sizes, sizes.contended_per_task, contended_account).await?,
        Case::Load | Case::LoadSnapshot => {
            let mut loaded = Vec::with_capacity(sizes.loads_per_run as usize);
            for _ in 0..sizes.loads_per_run {
                loaded.push(if case == Case::Load {
                    session.load("d").await?
                } else {
                    session.load_from_snapshot("e").await?
                });
            }
            let elapsed = started.elapsed();
            let expected = if case == Case::Load {
                history_state(sizes.history)
            } else {
                let mut state = history_state(sizes.history - 1);
                state.deposit(1);
                state
            };
            check(loaded.iter().all(|state| *state == expected), || {
                format!("loaded {:?}, expected {expected:?}", loaded.iter().find(|state| **state != expected))
            })?;
            return Ok(Sample { elapsed, retries });
        }
        Case::Import => {
            let streams = import_streams(sizes, run);
            let started = Instant::now();
            session.import(&streams).await?;
            let elapsed = started.elapsed();
            check_import(&**session, sizes, &streams).await?;
            return Ok(Sample { elapsed, retries });
        }
        Case::CatchUp => {
            let (accounts, total) = session.catch_up().await?;
            let elapsed = started.elapsed();
            let expected = history_state(sizes.catch_up_per_stream()).balance * sizes.catch_up_streams as i64;
            check(accounts == sizes.catch_up_streams && total == expected, || {
                format!("{accounts} accounts with {total} in all; expected {} with {expected}", sizes.catch_up_streams)
            })?;
            return Ok(Sample { elapsed, retries });
        }
    }
    let elapsed = started.elapsed();
    check_balances(case, &**session, sizes, run).await?;
    Ok(Sample { elapsed, retries })
}

/// The streams one run of case f imports: new ones, named after the run.
fn import_streams(sizes: &Sizes, run: u64) -> Vec<(String, Vec<AccountEvent>)> {
    (0..sizes.import_streams())
        .map(|stream| {
            let name = account(Case::Import, format!("{run}-{stream}"));
            let events = history(&name, 0, sizes.import_batch);
            (name, events)
        })
        .collect()
}

/// After an import: a sample of the streams (the first, the last, and every tenth) load as
/// their history folds.
async fn check_import(session: &dyn Session, sizes: &Sizes, streams: &[(String, Vec<AccountEvent>)]) -> Result<()> {
    let expected = history_state(sizes.import_batch);
    for (index, (name, _)) in streams.iter().enumerate() {
        if index % 10 == 0 || index == streams.len() - 1 {
            let loaded = session.load(name).await?;
            check(loaded == expected, || format!("imported `{name}` loads as {loaded:?}, expected {expected:?}"))?;
        }
    }
    Ok(())
}

/// After `run` runs of a command case: every account holds exactly the deposits made into it
/// (and, in case h, every projection counted each of them once).
async fn check_balances(case: Case, session: &dyn Session, sizes: &Sizes, run: u64) -> Result<()> {
    let accounts: Vec<(String, u64)> = match case {
        Case::Sequential | Case::Projections => {
            (0..sizes.aggregates).map(|index| (account(case, index), run)).collect()
        }
        Case::Concurrent => {
            let per_account = sizes.commands_per_task / sizes.accounts_per_task;
            (0..sizes.tasks)
                .flat_map(|task| (0..sizes.accounts_per_task).map(move |slot| (task, slot)))
                .map(|(task, slot)| (concurrent_account(task, slot), run * per_account))
                .collect()
        }
        Case::Contended => {
            let mut counts = vec![0; sizes.contended_aggregates as usize];
            for task in 0..sizes.tasks {
                for command in 0..sizes.contended_per_task {
                    counts[((task + command) % sizes.contended_aggregates) as usize] += run;
                }
            }
            counts.into_iter().enumerate().map(|(index, count)| (account(case, index), count)).collect()
        }
        _ => Vec::new(),
    };
    for (name, deposits) in &accounts {
        let loaded = session.load(name).await?;
        let expected = Account { balance: *deposits as i64, transactions: *deposits };
        check(loaded == expected, || format!("`{name}` holds {loaded:?} after {run} runs, expected {expected:?}"))?;
    }
    if case == Case::Projections {
        let made = run * sizes.aggregates;
        if let Some(projected) = session.projected().await? {
            check(projected.len() as u64 == sizes.projections && projected.iter().all(|count| *count == made), || {
                format!("the projections counted {projected:?} deposits; {made} were made")
            })?;
        }
    }
    Ok(())
}

/// Fails with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl FnOnce() -> String) -> Result<()> {
    if condition { Ok(()) } else { Err(message().into()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contender::{BoxFuture, Contender};
    use crate::contenders::hand_written::HandWritten;

    /// The hand-written log, but losing every tenth deposit while saying it committed.
    struct Lossy {
        inner: Arc<dyn Session>,
        deposits: std::sync::atomic::AtomicU64,
    }

    impl Session for Lossy {
        fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
            self.inner.open(account)
        }

        fn append<'a>(
            &'a self,
            account: &'a str,
            version: u64,
            events: &'a [AccountEvent],
        ) -> BoxFuture<'a, Result<()>> {
            self.inner.append(account, version, events)
        }

        fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
            if self.deposits.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10 == 9 {
                return Box::pin(async { Ok(Outcome::Committed) });
            }
            self.inner.deposit(account)
        }

        fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
            self.inner.load(account)
        }
    }

    fn small() -> Sizes {
        Sizes::scaled(0.02)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_command_case_passes_on_a_correct_contender() {
        for case in [Case::Sequential, Case::Concurrent, Case::Contended, Case::Projections] {
            let session = HandWritten.prepare(case, &small()).await.unwrap();
            set_up(case, &*session, &small()).await.unwrap();
            for run_number in 1..=3 {
                run(case, &session, &small(), run_number).await.unwrap_or_else(|error| panic!("{case}: {error}"));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_contender_that_loses_deposits_fails_its_check() {
        for case in [Case::Sequential, Case::Concurrent, Case::Contended] {
            let inner = HandWritten.prepare(case, &small()).await.unwrap();
            let session: Arc<dyn Session> = Arc::new(Lossy { inner, deposits: 0.into() });
            set_up(case, &*session, &small()).await.unwrap();
            let error = run(case, &session, &small(), 1).await.expect_err("a lost deposit must fail the check");
            assert!(error.to_string().contains("expected"), "{case}: {error}");
        }
    }
}
