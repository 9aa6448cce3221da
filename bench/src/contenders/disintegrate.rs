//! disintegrate 4 with disintegrate-postgres 4.0.1, used as its documentation shows: a
//! `DecisionMaker` for commands, its `EventSourcedStateStore` for loads (with `PgSnapshotter`
//! for case e), `append_without_validation` for histories and the import, and
//! `EventStore::stream` over the whole log for the catch-up. The sqlx pool does not test
//! connections before handing them out. Case h does not apply: disintegrate's projections
//! (event listeners) run in a background task of their own, never within a command.

use std::collections::HashMap;
use std::sync::Arc;

use disintegrate::serde::json::Json;
use disintegrate::{
    Decision, DecisionError, EventSourcedStateStore, EventStore, LoadState, NoSnapshot, StateMutate, StateQuery,
    StreamItem, WithSnapshot,
};
use disintegrate_postgres::{PgEventStore, PgSnapshotter};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::cases::{Case, Sizes};
use crate::contender::{BoxFuture, Contender, Outcome, Result, Role, Session};
use crate::domain::{Account, AccountEvent, BankError};

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
    fn of(account_id: &str, event: &AccountEvent) -> Self {
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

/// Events between two snapshots of case e.
const SNAPSHOT_EVERY: u64 = 100;

pub struct Disintegrate {
    url: String,
}

impl Disintegrate {
    pub fn new(url: String) -> Self {
        Disintegrate { url }
    }
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

impl Contender for Disintegrate {
    fn name(&self) -> String {
        "disintegrate".to_owned()
    }

    fn role(&self) -> Role {
        Role::Peer
    }

    fn unsupported(&self, case: Case) -> Option<&'static str> {
        (case == Case::Projections)
            .then_some("its projections (event listeners) run in a background task, never within a command")
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>> {
        Box::pin(async move {
            let schema = format!("disintegrate_{}", case.letter());
            let pool = crate::pg::sqlx_pool(&self.url, &schema, sizes.pool_size as u32).await?;
            let store = open_store(pool.clone()).await?;
            PgSnapshotter::try_new(pool.clone(), SNAPSHOT_EVERY).await?;
            let session: Arc<dyn Session> = Arc::new(DisintegrateSession { pool, store });
            Ok(session)
        })
    }
}

struct DisintegrateSession {
    pool: PgPool,
    store: Store,
}

impl DisintegrateSession {
    async fn make<D>(&self, decision: D) -> Result<(), DecisionError<BankError>>
    where
        D: Decision<Event = BankEvent, StateQuery = AccountState, Error = BankError> + 'static,
    {
        disintegrate_postgres::decision_maker(self.store.clone(), NoSnapshot).make(decision).await?;
        Ok(())
    }

    fn snapshotting(&self) -> EventSourcedStateStore<i64, BankEvent, Store, WithSnapshot<i64, PgSnapshotter>> {
        let snapshotter = PgSnapshotter::new_uninitialized(self.pool.clone(), SNAPSHOT_EVERY);
        EventSourcedStateStore::new(self.store.clone(), WithSnapshot::new(snapshotter))
    }
}

/// A conflict: a concurrent append, or a serialization failure of its SERIALIZABLE
/// transaction.
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

impl Session for DisintegrateSession {
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.make(OpenAccount(account.to_owned())).await?;
            Ok(())
        })
    }

    fn append<'a>(&'a self, account: &'a str, _: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let events = events.iter().map(|event| BankEvent::of(account, event)).collect();
            self.store.append_without_validation(events).await?;
            Ok(())
        })
    }

    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(async move {
            match self.make(Deposit(account.to_owned(), 1)).await {
                Ok(()) => Ok(Outcome::Committed),
                Err(error) if is_conflict(&error) => Ok(Outcome::Conflict),
                Err(error) => Err(error.into()),
            }
        })
    }

    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        // The snapshotter stores a snapshot when a load through it applied enough events.
        Box::pin(async move {
            self.make(Deposit(account.to_owned(), 1)).await?;
            self.snapshotting().load(AccountState::new(account)).await?;
            Ok(())
        })
    }

    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            let states = EventSourcedStateStore::new(self.store.clone(), NoSnapshot);
            Ok(states.load(AccountState::new(account)).await?.state().account.clone())
        })
    }

    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { Ok(self.snapshotting().load(AccountState::new(account)).await?.state().account.clone()) })
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async move {
            let query = disintegrate::query!(BankEvent);
            let mut events = self.store.stream(&query);
            let mut balances: HashMap<String, i64> = HashMap::new();
            while let Some(item) = events.try_next().await? {
                let StreamItem::Event(event) = item else { continue };
                match event.into_inner() {
                    BankEvent::Opened { account_id } => {
                        balances.entry(account_id).or_default();
                    }
                    BankEvent::Deposited { account_id, amount } => *balances.entry(account_id).or_default() += amount,
                    BankEvent::Withdrawn { account_id, amount } => *balances.entry(account_id).or_default() -= amount,
                }
            }
            Ok((balances.len() as u64, balances.values().sum()))
        })
    }
}
