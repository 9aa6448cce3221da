//! disintegrate 4 with disintegrate-postgres 4.0.1, used as its documentation shows: a
//! `DecisionMaker` for commands, its `EventSourcedStateStore` for loads (with `PgSnapshotter`
//! for case e), `append_without_validation` for the import and `EventStore::stream` over the
//! whole log for the catch-up.

use std::collections::HashMap;

use disintegrate::serde::json::Json;
use disintegrate::{
    Decision, DecisionError, EventSourcedStateStore, EventStore, LoadState, NoSnapshot, StateMutate, StateQuery,
    StreamItem, WithSnapshot,
};
use disintegrate_postgres::{PgEventStore, PgSnapshotter};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::domain::{Account, AccountEvent, BankError, history_event, history_state};
use crate::harness::{
    BoxError, BoxFuture, Case, Contender, Result, Sample, Sizes, add_counts, check, check_contended, timed, timed_loads,
};

#[derive(Debug, Clone, PartialEq, Eq, disintegrate::Event, Serialize, Deserialize)]
pub enum BankEvent {
    Opened {
        #[id]
        account_id: String,
    },
    Deposited {
        #[id]
        account_id: String,
        amount: i64,
    },
    Withdrawn {
        #[id]
        account_id: String,
        amount: i64,
    },
}

impl BankEvent {
    fn of(account_id: &str, event: AccountEvent) -> Self {
        let account_id = account_id.to_owned();
        match event {
            AccountEvent::Opened(_) => BankEvent::Opened { account_id },
            AccountEvent::Deposited(event) => BankEvent::Deposited { account_id, amount: event.amount },
            AccountEvent::Withdrawn(event) => BankEvent::Withdrawn { account_id, amount: event.amount },
        }
    }
}

#[derive(Debug, Default, Clone, StateQuery, Serialize, Deserialize)]
#[state_query(BankEvent)]
pub struct AccountState {
    #[id]
    account_id: String,
    account: Account,
}

impl AccountState {
    fn new(account_id: &str) -> Self {
        AccountState { account_id: account_id.to_owned(), account: Account::default() }
    }
}

impl StateMutate for AccountState {
    fn mutate(&mut self, event: Self::Event) {
        match event {
            BankEvent::Opened { .. } => {}
            BankEvent::Deposited { amount, .. } => self.account.deposit(amount),
            BankEvent::Withdrawn { amount, .. } => self.account.deposit(-amount),
        }
    }
}

struct OpenAccount(String);

impl Decision for OpenAccount {
    type Event = BankEvent;
    type StateQuery = AccountState;
    type Error = BankError;

    fn state_query(&self) -> AccountState {
        AccountState::new(&self.0)
    }

    fn process(&self, _: &AccountState) -> Result<Vec<BankEvent>, BankError> {
        Ok(vec![BankEvent::Opened { account_id: self.0.clone() }])
    }
}

struct Deposit(String, i64);

impl Decision for Deposit {
    type Event = BankEvent;
    type StateQuery = AccountState;
    type Error = BankError;

    fn state_query(&self) -> AccountState {
        AccountState::new(&self.0)
    }

    fn process(&self, _: &AccountState) -> Result<Vec<BankEvent>, BankError> {
        Ok(vec![BankEvent::Deposited { account_id: self.0.clone(), amount: Account::decide_deposit(self.1)? }])
    }
}

type Store = PgEventStore<BankEvent, Json<BankEvent>>;

/// `event_store_begin_epoch` as disintegrate-postgres 4.0.1 defines it, with its one
/// hexadecimal literal (`0xFFFFFFFF`, which PostgreSQL accepts only from version 16 on)
/// written in decimal.
const BEGIN_EPOCH: &str = "
    CREATE OR REPLACE FUNCTION event_store_begin_epoch() RETURNS void AS $$
    DECLARE
        id BIGINT;
        db_id INT;
    BEGIN
        SELECT last_value INTO id FROM seq_event_event_id;
        SELECT oid INTO db_id FROM pg_database WHERE datname = current_database();
        PERFORM pg_try_advisory_xact_lock_shared(db_id, 0);
        PERFORM pg_try_advisory_xact_lock_shared(1, (id & 4294967295)::bit(32)::integer);
        PERFORM pg_try_advisory_xact_lock_shared(2, (id >> 32)::bit(32)::integer);
    END;
    $$ LANGUAGE plpgsql";

/// The domain-id column the migrator adds after that function (it stops before, on 15).
const DOMAIN_ID: &str = "
    ALTER TABLE event ADD COLUMN IF NOT EXISTS account_id TEXT;
    CREATE INDEX IF NOT EXISTS idx_event_account_id ON event (account_id) WHERE account_id IS NOT NULL";

pub struct Disintegrate {
    url: String,
    pool: Option<PgPool>,
    store: Option<Store>,
}

impl Disintegrate {
    pub fn new(url: String) -> Self {
        Disintegrate { url, pool: None, store: None }
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("prepared")
    }

    /// Sets up the store with disintegrate's own migrator, finishing by hand where it fails on
    /// PostgreSQL before 16.
    async fn open_store(pool: PgPool) -> Result<Store> {
        let serde = Json::<BankEvent>::default();
        match PgEventStore::try_new(pool.clone(), serde.clone()).await {
            Ok(store) => Ok(store),
            Err(error) if error.to_string().contains("trailing junk") => {
                sqlx::raw_sql(BEGIN_EPOCH).execute(&pool).await?;
                sqlx::raw_sql(DOMAIN_ID).execute(&pool).await?;
                Ok(PgEventStore::new_uninitialized(pool, serde))
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn make<D>(&self, decision: D) -> Result<(), DecisionError<BankError>>
    where
        D: Decision<Event = BankEvent, StateQuery = AccountState, Error = BankError> + 'static,
    {
        disintegrate_postgres::decision_maker(self.store().clone(), NoSnapshot).make(decision).await?;
        Ok(())
    }

    /// `make`, retrying on a conflict (a concurrent append, or a serialization failure of
    /// its SERIALIZABLE transaction): how many retries, and whether it gave up.
    async fn make_retrying(&self, account: &str, max_attempts: u64) -> Result<(u64, bool)> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.make(Deposit(account.to_owned(), 1)).await {
                Ok(()) => return Ok((attempts - 1, false)),
                Err(error) if is_conflict(&error) && attempts < max_attempts => {}
                Err(error) if is_conflict(&error) => return Ok((attempts - 1, true)),
                Err(error) => return Err(error.into()),
            }
        }
    }

    async fn history(&self, account: &str, count: u64, batch: u64) -> Result<()> {
        let mut next = 0;
        while next < count {
            let end = (next + batch).min(count);
            let events = (next..end).map(|index| BankEvent::of(account, history_event(account, index))).collect();
            self.store().append_without_validation(events).await?;
            next = end;
        }
        Ok(())
    }

    async fn load(&self, account: &str) -> Result<Account> {
        let states = EventSourcedStateStore::new(self.store().clone(), NoSnapshot);
        Ok(states.load(AccountState::new(account)).await?.state().account.clone())
    }

    async fn contended_total(&self, sizes: &Sizes) -> Result<i64> {
        let mut total = 0;
        for account in 0..sizes.contended_aggregates {
            total += self.load(&format!("c{account}")).await?.balance;
        }
        Ok(total)
    }

    fn snapshotting(&self) -> EventSourcedStateStore<i64, BankEvent, Store, WithSnapshot<i64, PgSnapshotter>> {
        let snapshotter = PgSnapshotter::new_uninitialized(self.pool.clone().expect("prepared"), 100);
        EventSourcedStateStore::new(self.store().clone(), WithSnapshot::new(snapshotter))
    }

    /// Runs `tasks` command loops at once, each retrying its conflicts.
    async fn concurrently(
        &self,
        sizes: &Sizes,
        account_of: impl Fn(u64, u64) -> String + Sync,
        per_task: u64,
    ) -> Result<(u64, u64)> {
        let account_of = &account_of;
        let tasks = (0..sizes.tasks).map(|task| async move {
            let (mut retries, mut failures) = (0, 0);
            for command in 0..per_task {
                let (retried, failed) = self.make_retrying(&account_of(task, command), sizes.max_attempts).await?;
                retries += retried;
                failures += u64::from(failed);
            }
            Ok::<_, BoxError>((retries, failures))
        });
        add_counts(futures_util::future::join_all(tasks).await)
    }
}

fn is_conflict(error: &DecisionError<BankError>) -> bool {
    let DecisionError::StateStore(source) = error else { return false };
    match source.downcast_ref::<disintegrate_postgres::Error>() {
        Some(disintegrate_postgres::Error::Concurrency) => true,
        Some(disintegrate_postgres::Error::Database(sqlx::Error::Database(database))) => {
            database.code().is_some_and(|code| code == "40001" || code == "40P01")
        }
        _ => false,
    }
}

impl Contender for Disintegrate {
    fn name(&self) -> &str {
        "disintegrate"
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let pool =
                crate::pg::sqlx_pool(&self.url, &format!("disintegrate_{}", case.letter()), sizes.tasks as u32).await?;
            self.store = Some(Self::open_store(pool.clone()).await?);
            PgSnapshotter::try_new(pool.clone(), 100).await?;
            self.pool = Some(pool);
            match case {
                Case::Sequential => {
                    for index in 0..sizes.aggregates {
                        self.make(OpenAccount(format!("a{index}"))).await?;
                    }
                }
                Case::Concurrent => {
                    for task in 0..sizes.tasks {
                        for account in 0..sizes.accounts_per_task {
                            self.make(OpenAccount(format!("b{task}-{account}"))).await?;
                        }
                    }
                }
                Case::Contended => {
                    for account in 0..sizes.contended_aggregates {
                        self.make(OpenAccount(format!("c{account}"))).await?;
                    }
                }
                Case::Load => self.history("d", sizes.history, sizes.import_batch).await?,
                Case::LoadSnapshot => {
                    // The history, then one load through the snapshotter, which stores the
                    // snapshot once more than 100 events were applied.
                    self.history("e", sizes.history, sizes.import_batch).await?;
                    self.snapshotting().load(AccountState::new("e")).await?;
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
                            self.make(Deposit(format!("a{index}"), 1)).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    let last = self.load(&format!("a{}", sizes.aggregates - 1)).await?;
                    check(last.balance == round as i64 + 1, || format!("balance {}", last.balance))?;
                    Ok(Sample { elapsed, operations: sizes.aggregates, ..Sample::default() })
                }
                Case::Concurrent => {
                    let accounts = sizes.accounts_per_task;
                    let (elapsed, (retries, failures)) = timed(self.concurrently(
                        sizes,
                        |task, command| format!("b{task}-{}", command % accounts),
                        sizes.commands_per_task,
                    ))
                    .await?;
                    check(failures == 0, || format!("{failures} commands failed"))?;
                    Ok(Sample { elapsed, operations: sizes.tasks * sizes.commands_per_task, retries, failures })
                }
                Case::Contended => {
                    let before = self.contended_total(sizes).await?;
                    let accounts = sizes.contended_aggregates;
                    let (elapsed, (retries, failures)) = timed(self.concurrently(
                        sizes,
                        |task, command| format!("c{}", (task + command) % accounts),
                        sizes.contended_per_task,
                    ))
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
                    let states = &self.snapshotting();
                    let (elapsed, state) = timed_loads(sizes.loads_per_run, || async move {
                        Ok(states.load(AccountState::new("e")).await?.state().account.clone())
                    })
                    .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
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
                    let (elapsed, balances) = timed(async {
                        let query = disintegrate::query!(BankEvent);
                        let mut events = self.store().stream(&query);
                        let mut balances: HashMap<String, i64> = HashMap::new();
                        while let Some(item) = events.try_next().await? {
                            let StreamItem::Event(event) = item else { continue };
                            match event.into_inner() {
                                BankEvent::Opened { account_id } => {
                                    balances.entry(account_id).or_default();
                                }
                                BankEvent::Deposited { account_id, amount } => {
                                    *balances.entry(account_id).or_default() += amount
                                }
                                BankEvent::Withdrawn { account_id, amount } => {
                                    *balances.entry(account_id).or_default() -= amount
                                }
                            }
                        }
                        Ok(balances)
                    })
                    .await?;
                    crate::contenders::raw::check_balances(&balances, sizes)?;
                    Ok(Sample { elapsed, operations: sizes.catch_up_events, ..Sample::default() })
                }
            }
        })
    }
}
