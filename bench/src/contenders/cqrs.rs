//! cqrs-es 0.5 with postgres-es 0.5, used as its documentation shows: `CqrsFramework::execute`
//! for commands, the event store's `load_aggregate` for loads (its snapshot store for case e),
//! the repository's `persist` for the import and `QueryReplay::replay_all` for the catch-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, QueryReplay, SerializedEvent};
use cqrs_es::{AggregateError, DomainEvent, EventEnvelope, EventStore, Query};
use postgres_es::{PostgresCqrs, PostgresEventRepository, postgres_cqrs, postgres_snapshot_cqrs};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::domain::{Account, BankError, history_event, history_state};
use crate::harness::{
    BoxFuture, Case, Contender, Result, Sample, Sizes, add_counts, check, check_contended, timed, timed_loads,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BankEvent {
    Opened { account: String },
    Deposited { amount: i64 },
    Withdrawn { amount: i64 },
}

impl DomainEvent for BankEvent {
    fn event_type(&self) -> String {
        match self {
            BankEvent::Opened { .. } => "Opened",
            BankEvent::Deposited { .. } => "Deposited",
            BankEvent::Withdrawn { .. } => "Withdrawn",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

impl From<crate::domain::AccountEvent> for BankEvent {
    fn from(event: crate::domain::AccountEvent) -> Self {
        use crate::domain::AccountEvent;
        match event {
            AccountEvent::Opened(event) => BankEvent::Opened { account: event.account },
            AccountEvent::Deposited(event) => BankEvent::Deposited { amount: event.amount },
            AccountEvent::Withdrawn(event) => BankEvent::Withdrawn { amount: event.amount },
        }
    }
}

pub enum BankCommand {
    Open { account: String },
    Deposit { amount: i64 },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BankAccount(Account);

impl cqrs_es::Aggregate for BankAccount {
    const TYPE: &'static str = "Account";
    type Command = BankCommand;
    type Event = BankEvent;
    type Error = BankError;
    type Services = ();

    async fn handle(&mut self, command: BankCommand, _: &(), sink: &EventSink<Self>) -> Result<(), BankError> {
        let event = match command {
            BankCommand::Open { account } => BankEvent::Opened { account },
            BankCommand::Deposit { amount } => BankEvent::Deposited { amount: Account::decide_deposit(amount)? },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: BankEvent) {
        match event {
            BankEvent::Opened { .. } => {}
            BankEvent::Deposited { amount } => self.0.deposit(amount),
            BankEvent::Withdrawn { amount } => self.0.deposit(-amount),
        }
    }
}

/// The catch-up's projection: balances per account.
#[derive(Default, Clone)]
struct Balances(Arc<Mutex<HashMap<String, i64>>>);

#[async_trait::async_trait]
impl Query<BankAccount> for Balances {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<BankAccount>]) {
        let mut balances = self.0.lock().unwrap();
        let balance = balances.entry(aggregate_id.to_owned()).or_default();
        for event in events {
            match event.payload {
                BankEvent::Opened { .. } => {}
                BankEvent::Deposited { amount } => *balance += amount,
                BankEvent::Withdrawn { amount } => *balance -= amount,
            }
        }
    }
}

/// The tables of postgres-es's `db/init.sql`.
const TABLES: &str = "
    CREATE TABLE events (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
        event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, sequence));
    CREATE TABLE snapshots (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
        current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

pub struct CqrsEs {
    url: String,
    pool: Option<PgPool>,
    cqrs: Option<PostgresCqrs<BankAccount>>,
}

impl CqrsEs {
    pub fn new(url: String) -> Self {
        CqrsEs { url, pool: None, cqrs: None }
    }

    fn pool(&self) -> &PgPool {
        self.pool.as_ref().expect("prepared")
    }

    fn cqrs(&self) -> &PostgresCqrs<BankAccount> {
        self.cqrs.as_ref().expect("prepared")
    }

    fn repository(&self) -> PostgresEventRepository {
        PostgresEventRepository::new(self.pool().clone())
    }

    /// Writes `count` history events to `account` through the repository, in batches.
    async fn history(&self, account: &str, count: u64, batch: u64) -> Result<()> {
        let repository = self.repository();
        let mut next = 0;
        while next < count {
            let end = (next + batch).min(count);
            let events = (next..end)
                .map(|index| serialized(account, index + 1, BankEvent::from(history_event(account, index))))
                .collect::<Result<Vec<_>>>()?;
            repository.persist::<BankAccount>(&events, None).await?;
            next = end;
        }
        Ok(())
    }

    async fn open(&self, account: String) -> Result<(), AggregateError<BankError>> {
        self.cqrs().execute(&account.clone(), BankCommand::Open { account }).await
    }

    async fn deposit(&self, account: &str) -> Result<(), AggregateError<BankError>> {
        self.cqrs().execute(account, BankCommand::Deposit { amount: 1 }).await
    }

    async fn load(&self, account: &str) -> Result<Account> {
        let store = PersistedEventStore::<_, BankAccount>::new_event_store(self.repository());
        Ok(store.load_aggregate(account).await?.aggregate.0)
    }

    async fn contended_total(&self, sizes: &Sizes) -> Result<i64> {
        let mut total = 0;
        for account in 0..sizes.contended_aggregates {
            total += self.load(&format!("c{account}")).await?.balance;
        }
        Ok(total)
    }
}

fn serialized(account: &str, sequence: u64, event: BankEvent) -> Result<SerializedEvent> {
    Ok(SerializedEvent {
        aggregate_id: account.to_owned(),
        sequence: sequence as usize,
        aggregate_type: "Account".to_owned(),
        event_type: event.event_type(),
        event_version: event.event_version(),
        payload: serde_json::to_value(&event)?,
        metadata: serde_json::Value::Object(serde_json::Map::new()),
    })
}

impl Contender for CqrsEs {
    fn name(&self) -> &str {
        "cqrs-es"
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let schema = format!("cqrs_{}", case.letter());
            let pool = crate::pg::sqlx_pool(&self.url, &schema, sizes.tasks as u32).await?;
            sqlx::raw_sql(TABLES).execute(&pool).await?;
            self.cqrs = Some(if case == Case::LoadSnapshot {
                postgres_snapshot_cqrs(pool.clone(), Vec::new(), 100, ())
            } else {
                postgres_cqrs(pool.clone(), Vec::new(), ())
            });
            self.pool = Some(pool);
            match case {
                Case::Sequential => {
                    for index in 0..sizes.aggregates {
                        self.open(format!("a{index}")).await?;
                    }
                }
                Case::Concurrent => {
                    for task in 0..sizes.tasks {
                        for account in 0..sizes.accounts_per_task {
                            self.open(format!("b{task}-{account}")).await?;
                        }
                    }
                }
                Case::Contended => {
                    for account in 0..sizes.contended_aggregates {
                        self.open(format!("c{account}")).await?;
                    }
                }
                Case::Load => self.history("d", sizes.history, sizes.import_batch).await?,
                Case::LoadSnapshot => {
                    // The history, then one command through the snapshot store, which
                    // writes the snapshot as its commit reaches a multiple of 100.
                    self.history("e", sizes.history - 1, sizes.import_batch).await?;
                    self.deposit("e").await?;
                }
                Case::Import => {}
                Case::CatchUp => {
                    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
                    for stream in 0..sizes.catch_up_streams {
                        self.history(&format!("g{stream}"), per_stream, per_stream).await?;
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
                            self.deposit(&format!("a{index}")).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    let last = self.load(&format!("a{}", sizes.aggregates - 1)).await?;
                    check(last.balance == round as i64 + 1, || format!("balance {}", last.balance))?;
                    Ok(Sample { elapsed, operations: sizes.aggregates, ..Sample::default() })
                }
                Case::Concurrent => {
                    let this = &*self;
                    let (elapsed, ()) = timed(async {
                        let tasks = (0..sizes.tasks).map(|task| async move {
                            for command in 0..sizes.commands_per_task {
                                this.deposit(&format!("b{task}-{}", command % sizes.accounts_per_task)).await?;
                            }
                            Ok::<_, AggregateError<BankError>>(())
                        });
                        // One future per task, polled together: the framework is not `'static`.
                        for result in futures_util::future::join_all(tasks).await {
                            result?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.tasks * sizes.commands_per_task, ..Sample::default() })
                }
                Case::Contended => {
                    let before = self.contended_total(sizes).await?;
                    let this = &*self;
                    let (elapsed, (retries, failures)) = timed(async {
                        let tasks = (0..sizes.tasks).map(|task| async move {
                            let (mut retries, mut failures) = (0, 0);
                            for command in 0..sizes.contended_per_task {
                                let account = format!("c{}", (task + command) % sizes.contended_aggregates);
                                let mut attempts = 0;
                                loop {
                                    attempts += 1;
                                    match this.deposit(&account).await {
                                        Ok(()) => break,
                                        Err(AggregateError::AggregateConflict) if attempts < sizes.max_attempts => {
                                            retries += 1;
                                        }
                                        Err(AggregateError::AggregateConflict) => {
                                            failures += 1;
                                            break;
                                        }
                                        Err(other) => return Err(other),
                                    }
                                }
                            }
                            Ok((retries, failures))
                        });
                        add_counts(futures_util::future::join_all(tasks).await)
                    })
                    .await?;
                    let operations = sizes.tasks * sizes.contended_per_task;
                    let after = self.contended_total(sizes).await?;
                    check_contended(before, after, operations, failures)?;
                    Ok(Sample { elapsed, operations, retries, failures })
                }
                Case::Load => {
                    let (elapsed, state) =
                        timed_loads(sizes.loads_per_run, || async move { self.load("d").await }).await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::LoadSnapshot => {
                    let store = &PersistedEventStore::<_, BankAccount>::new_snapshot_store(self.repository(), 100);
                    let (elapsed, context) =
                        timed_loads(sizes.loads_per_run, || async move { Ok(store.load_aggregate("e").await?) })
                            .await?;
                    // cqrs-es 0.5.0 applies a command's events twice to the snapshot it writes:
                    // `EventSink::write` applies them to the loaded aggregate, and the snapshot
                    // store's `update_snapshot_with_events` applies them again. The snapshot
                    // taken at the seeding deposit therefore holds that deposit twice.
                    let mut expected = history_state(sizes.history - 1);
                    expected.deposit(1);
                    expected.deposit(1);
                    check(context.aggregate.0 == expected && context.current_sequence as u64 == sizes.history, || {
                        format!("loaded {:?} at {}", context.aggregate, context.current_sequence)
                    })?;
                    check(context.current_snapshot.is_some(), || "no snapshot was loaded".to_owned())?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::Import => {
                    let (elapsed, ()) = timed(async {
                        for stream in 0..sizes.import_streams() {
                            self.history(&format!("f{round}-{stream}"), sizes.import_batch, sizes.import_batch).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.import_streams() * sizes.import_batch, ..Sample::default() })
                }
                Case::CatchUp => {
                    let balances = Balances::default();
                    let (elapsed, ()) = timed(async {
                        QueryReplay::new(self.repository(), balances.clone()).replay_all().await?;
                        Ok(())
                    })
                    .await?;
                    crate::contenders::raw::check_balances(&balances.0.lock().unwrap(), sizes)?;
                    Ok(Sample { elapsed, operations: sizes.catch_up_events, ..Sample::default() })
                }
            }
        })
    }
}
