//! eventsmith through its public API (`App::execute`, `App::load`, `EventStore::append`, a
//! `#[projection]` caught up by `App::builder().build()`), on any of its stores.

use std::path::PathBuf;
use std::sync::Arc;

use eventsmith::store::{DynEventStore, NewEvent, PostgresOptions, SqliteOptions};
use eventsmith::{App, EventStore, ExecuteError, ExpectedVersion, MemoryStore, PostgresStore, SqliteStore};

use crate::domain::{
    Account, Balances, BankError, Deposit, DepositSnapshotted, Open, SnapshottedAccount, TotalBalance, history_event,
    history_state,
};
use crate::harness::{
    BoxFuture, Case, Contender, Result, Sample, Sizes, add_counts, check, check_contended, timed, timed_loads,
};

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum Backend {
    Postgres { url: String },
    Sqlite { directory: PathBuf },
    Memory,
}

pub struct Eventsmith {
    backend: Backend,
    name: String,
    store: Option<Arc<dyn DynEventStore>>,
    app: Option<App>,
}

impl Eventsmith {
    pub fn new(backend: Backend) -> Self {
        Eventsmith { backend, name: "eventsmith".to_owned(), store: None, app: None }
    }

    async fn open_store(&self, case: Case) -> Result<Arc<dyn DynEventStore>> {
        Ok(match &self.backend {
            Backend::Postgres { url } => {
                let options =
                    PostgresOptions { schema: format!("eventsmith_{}", case.letter()), pool_size: 8, migrate: true };
                Arc::new(PostgresStore::connect_with(url, options).await?)
            }
            Backend::Sqlite { directory } => {
                let path = directory.join(format!("eventsmith_{}.db", case.letter()));
                Arc::new(SqliteStore::open_with(path, SqliteOptions::default()).await?)
            }
            Backend::Memory => Arc::new(MemoryStore::new()),
        })
    }

    fn app(&self) -> &App {
        self.app.as_ref().expect("prepared")
    }

    fn store(&self) -> &dyn DynEventStore {
        &**self.store.as_ref().expect("prepared")
    }

    /// Appends `count` events of the seeded history to `stream`, in batches.
    async fn import(&self, stream: &str, first: u64, count: u64, batch: u64) -> Result<()> {
        let mut next = first;
        while next < first + count {
            let end = (next + batch).min(first + count);
            let events = (next..end)
                .map(|index| NewEvent::encode(&history_event(stream, index)))
                .collect::<Result<Vec<_>, _>>()?;
            self.store().append(stream, ExpectedVersion::Exact(next), events).await?;
            next = end;
        }
        Ok(())
    }

    async fn deposit(&self, account: String) -> Result<()> {
        self.app().execute(Deposit { account, amount: 1 }).await?;
        Ok(())
    }
}

impl Contender for Eventsmith {
    fn name(&self) -> &str {
        &self.name
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let store = self.open_store(case).await?;
            // Conflicts are retried by the benchmark itself, the same way for every library.
            let retries = if case == Case::Contended { 0 } else { 3 };
            self.app = Some(App::builder().shared_store(Arc::clone(&store)).max_retries(retries).build().await?);
            self.store = Some(store);
            match case {
                Case::Sequential => {
                    for index in 0..sizes.aggregates {
                        self.app().execute(Open { account: format!("a{index}") }).await?;
                    }
                }
                Case::Concurrent => {
                    for task in 0..sizes.tasks {
                        for account in 0..sizes.accounts_per_task {
                            self.app().execute(Open { account: format!("b{task}-{account}") }).await?;
                        }
                    }
                }
                Case::Contended => {
                    for account in 0..sizes.contended_aggregates {
                        self.app().execute(Open { account: format!("c{account}") }).await?;
                    }
                }
                Case::Load => self.import("Account-d", 0, sizes.history, sizes.import_batch).await?,
                Case::LoadSnapshot => {
                    // The history, then one command, whose commit crosses a multiple of 100
                    // and so writes the snapshot.
                    self.import("SnapshottedAccount-e", 0, sizes.history - 1, sizes.import_batch).await?;
                    self.app().execute(DepositSnapshotted { account: "e".to_owned(), amount: 1 }).await?;
                }
                Case::Import => {}
                Case::CatchUp => {
                    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
                    for stream in 0..sizes.catch_up_streams {
                        self.import(&format!("Account-g{stream}"), 0, per_stream, per_stream).await?;
                    }
                }
            }
            Ok(())
        })
    }

    fn run<'a>(&'a self, case: Case, round: u64, sizes: &'a Sizes) -> BoxFuture<'a, Result<Sample>> {
        Box::pin(async move {
            match case {
                Case::Sequential => {
                    let (elapsed, ()) = timed(async {
                        for index in 0..sizes.aggregates {
                            self.deposit(format!("a{index}")).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    let last = self.app().load::<Account>(format!("a{}", sizes.aggregates - 1)).await?;
                    check(last.state.balance == round as i64 + 1, || format!("balance {}", last.state.balance))?;
                    Ok(Sample { elapsed, operations: sizes.aggregates, ..Sample::default() })
                }
                Case::Concurrent => {
                    let (elapsed, ()) = timed(async {
                        let tasks: Vec<_> = (0..sizes.tasks)
                            .map(|task| {
                                let app = self.app().clone();
                                let (commands, accounts) = (sizes.commands_per_task, sizes.accounts_per_task);
                                tokio::spawn(async move {
                                    for command in 0..commands {
                                        let account = format!("b{task}-{}", command % accounts);
                                        app.execute(Deposit { account, amount: 1 }).await?;
                                    }
                                    Ok::<_, ExecuteError<BankError>>(())
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await??;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.tasks * sizes.commands_per_task, ..Sample::default() })
                }
                Case::Contended => {
                    let before = self.contended_total(sizes).await?;
                    let (elapsed, (retries, failures)) = timed(async {
                        let tasks: Vec<_> = (0..sizes.tasks)
                            .map(|task| {
                                let app = self.app().clone();
                                let sizes = sizes.clone();
                                tokio::spawn(async move {
                                    let (mut retries, mut failures) = (0, 0);
                                    for command in 0..sizes.contended_per_task {
                                        let account = format!("c{}", (task + command) % sizes.contended_aggregates);
                                        let mut attempts = 0;
                                        loop {
                                            attempts += 1;
                                            match app.execute(Deposit { account: account.clone(), amount: 1 }).await {
                                                Ok(_) => break,
                                                Err(ExecuteError::Conflict { .. }) if attempts < sizes.max_attempts => {
                                                    retries += 1;
                                                }
                                                Err(ExecuteError::Conflict { .. }) => {
                                                    failures += 1;
                                                    break;
                                                }
                                                Err(other) => return Err(other),
                                            }
                                        }
                                    }
                                    Ok((retries, failures))
                                })
                            })
                            .collect();
                        let mut counts = Vec::new();
                        for task in tasks {
                            counts.push(task.await?);
                        }
                        add_counts(counts)
                    })
                    .await?;
                    let operations = sizes.tasks * sizes.contended_per_task;
                    let after = self.contended_total(sizes).await?;
                    check_contended(before, after, operations, failures)?;
                    Ok(Sample { elapsed, operations, retries, failures })
                }
                Case::Load => {
                    let (elapsed, state) =
                        timed_loads(
                            sizes.loads_per_run,
                            || async move { Ok(self.app().load::<Account>("d").await?.state) },
                        )
                        .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::LoadSnapshot => {
                    let (elapsed, loaded) = timed_loads(sizes.loads_per_run, || async move {
                        Ok(self.app().load::<SnapshottedAccount>("e").await?)
                    })
                    .await?;
                    let mut expected = history_state(sizes.history - 1);
                    expected.deposit(1);
                    check(loaded.state.0 == expected && loaded.version == sizes.history, || {
                        format!("loaded {:?} at {}", loaded.state, loaded.version)
                    })?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::Import => {
                    let (elapsed, ()) = timed(async {
                        for stream in 0..sizes.import_streams() {
                            let stream = format!("Account-f{round}-{stream}");
                            self.import(&stream, 0, sizes.import_batch, sizes.import_batch).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.import_streams() * sizes.import_batch, ..Sample::default() })
                }
                Case::CatchUp => {
                    let store = Arc::clone(self.store.as_ref().expect("prepared"));
                    let (elapsed, app) =
                        timed(async { Ok(App::builder().shared_store(store).projection::<Balances>().build().await?) })
                            .await?;
                    let (accounts, total) = app.query(TotalBalance).await?;
                    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
                    let expected = history_state(per_stream).balance * sizes.catch_up_streams as i64;
                    check(accounts as u64 == sizes.catch_up_streams && total == expected, || {
                        format!("{accounts} accounts, total {total}; expected {expected}")
                    })?;
                    Ok(Sample { elapsed, operations: per_stream * sizes.catch_up_streams, ..Sample::default() })
                }
            }
        })
    }
}

impl Eventsmith {
    async fn contended_total(&self, sizes: &Sizes) -> Result<i64> {
        let mut total = 0;
        for account in 0..sizes.contended_aggregates {
            total += self.app().load::<Account>(format!("c{account}")).await?.state.balance;
        }
        Ok(total)
    }
}
