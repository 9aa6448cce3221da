//! cqrs-es 0.5 with postgres-es 0.5, used as its documentation shows: `CqrsFramework::execute`
//! for commands (with its `Query`s for case h), the event store's `load_aggregate` for loads
//! (its snapshot store for case e), the repository's `persist` for histories and the import,
//! and `QueryReplay::replay_all` for the catch-up. The sqlx pool does not test connections
//! before handing them out (eventsmith's pool does not either), and the replay streams through
//! a channel of 1,000 events (postgres-es's documented setting; 200 by default).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, QueryReplay, SerializedEvent};
use cqrs_es::{AggregateError, DomainEvent, EventEnvelope, EventStore, Query};
use postgres_es::{PostgresCqrs, PostgresEventRepository, postgres_cqrs, postgres_snapshot_cqrs};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::cases::{Case, Sizes};
use crate::contender::{BoxFuture, Contender, Outcome, Result, Role, Session};
use crate::domain::read_models::RECENT;
use crate::domain::{Account, AccountEvent, BankError};

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

impl From<&AccountEvent> for BankEvent {
    fn from(event: &AccountEvent) -> Self {
        match event {
            AccountEvent::Opened(event) => BankEvent::Opened { account: event.account.clone() },
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

/// Case h's six read models, as `Query`s the framework dispatches each commit to.
#[derive(Clone, Copy)]
enum ReadModel {
    Balances,
    Count,
    Total,
    Activity,
    PerAccount,
    Recent,
}

#[derive(Default)]
struct ReadModelState {
    balances: HashMap<String, i64>,
    count: u64,
    total: i64,
    last_sequence: HashMap<String, usize>,
    activity_seen: u64,
    counts: HashMap<String, u64>,
    recent: VecDeque<(String, i64)>,
    recent_seen: u64,
}

#[derive(Clone)]
struct CountingQuery {
    model: ReadModel,
    state: Arc<Mutex<ReadModelState>>,
}

#[async_trait::async_trait]
impl Query<BankAccount> for CountingQuery {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<BankAccount>]) {
        let mut state = self.state.lock().unwrap();
        for event in events {
            let BankEvent::Deposited { amount } = event.payload else { continue };
            match self.model {
                ReadModel::Balances => *state.balances.entry(aggregate_id.to_owned()).or_default() += amount,
                ReadModel::Count => state.count += 1,
                ReadModel::Total => state.total += amount,
                ReadModel::Activity => {
                    state.last_sequence.insert(aggregate_id.to_owned(), event.sequence);
                    state.activity_seen += 1;
                }
                ReadModel::PerAccount => *state.counts.entry(aggregate_id.to_owned()).or_default() += 1,
                ReadModel::Recent => {
                    if state.recent.len() == RECENT {
                        state.recent.pop_front();
                    }
                    state.recent.push_back((aggregate_id.to_owned(), amount));
                    state.recent_seen += 1;
                }
            }
        }
    }
}

impl CountingQuery {
    fn counted(&self) -> u64 {
        let state = self.state.lock().unwrap();
        match self.model {
            ReadModel::Balances => state.balances.values().sum::<i64>() as u64,
            ReadModel::Count => state.count,
            ReadModel::Total => state.total as u64,
            ReadModel::Activity => state.activity_seen,
            ReadModel::PerAccount => state.counts.values().sum(),
            ReadModel::Recent => state.recent_seen,
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

/// Events per message of postgres-es's event streams (the replay).
const STREAMING_CHANNEL: usize = 1_000;

/// Events between two snapshots of case e.
const SNAPSHOT_EVERY: usize = 100;

pub struct CqrsEs {
    url: String,
}

impl CqrsEs {
    pub fn new(url: String) -> Self {
        CqrsEs { url }
    }
}

impl Contender for CqrsEs {
    fn name(&self) -> String {
        "cqrs-es".to_owned()
    }

    fn role(&self) -> Role {
        Role::Peer
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>> {
        Box::pin(async move {
            let schema = format!("cqrs_{}", case.letter());
            let pool = crate::pg::sqlx_pool(&self.url, &schema, sizes.pool_size as u32).await?;
            sqlx::raw_sql(TABLES).execute(&pool).await?;
            let state = Arc::new(Mutex::new(ReadModelState::default()));
            let queries: Vec<CountingQuery> = if case == Case::Projections {
                [
                    ReadModel::Balances,
                    ReadModel::Count,
                    ReadModel::Total,
                    ReadModel::Activity,
                    ReadModel::PerAccount,
                    ReadModel::Recent,
                ]
                .into_iter()
                .map(|model| CountingQuery { model, state: Arc::clone(&state) })
                .collect()
            } else {
                Vec::new()
            };
            let boxed: Vec<Box<dyn Query<BankAccount>>> =
                queries.iter().map(|query| Box::new(query.clone()) as Box<dyn Query<BankAccount>>).collect();
            let cqrs = if case == Case::LoadSnapshot {
                postgres_snapshot_cqrs(pool.clone(), boxed, SNAPSHOT_EVERY, ())
            } else {
                postgres_cqrs(pool.clone(), boxed, ())
            };
            let session: Arc<dyn Session> = Arc::new(CqrsSession { pool, cqrs: Arc::new(cqrs), queries });
            Ok(session)
        })
    }
}

struct CqrsSession {
    pool: PgPool,
    cqrs: Arc<PostgresCqrs<BankAccount>>,
    queries: Vec<CountingQuery>,
}

fn serialized(account: &str, sequence: u64, event: &BankEvent) -> Result<SerializedEvent> {
    Ok(SerializedEvent {
        aggregate_id: account.to_owned(),
        sequence: sequence as usize,
        aggregate_type: "Account".to_owned(),
        event_type: event.event_type(),
        event_version: event.event_version(),
        payload: serde_json::to_value(event)?,
        metadata: serde_json::Value::Object(serde_json::Map::new()),
    })
}

impl CqrsSession {
    fn repository(&self) -> PostgresEventRepository {
        PostgresEventRepository::new(self.pool.clone()).with_streaming_channel_size(STREAMING_CHANNEL)
    }

    fn outcome(result: Result<(), AggregateError<BankError>>) -> Result<Outcome> {
        match result {
            Ok(()) => Ok(Outcome::Committed),
            Err(AggregateError::AggregateConflict) => Ok(Outcome::Conflict),
            Err(other) => Err(other.into()),
        }
    }
}

impl Session for CqrsSession {
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.cqrs.execute(account, BankCommand::Open { account: account.to_owned() }).await?;
            Ok(())
        })
    }

    fn append<'a>(&'a self, account: &'a str, version: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let events = (version + 1..)
                .zip(events)
                .map(|(sequence, event)| serialized(account, sequence, &BankEvent::from(event)))
                .collect::<Result<Vec<_>>>()?;
            self.repository().persist::<BankAccount>(&events, None).await?;
            Ok(())
        })
    }

    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(async move { Self::outcome(self.cqrs.execute(account, BankCommand::Deposit { amount: 1 }).await) })
    }

    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        // The deposit and the snapshot after it are written together through the repository.
        // (A deposit through the snapshot store would do the same, but cqrs-es 0.5.0 applies
        // the command's events twice to the snapshot it writes; see the README's findings.)
        Box::pin(async move {
            let store = PersistedEventStore::<_, BankAccount>::new_event_store(self.repository());
            let mut context = store.load_aggregate(account).await?;
            let event = BankEvent::Deposited { amount: 1 };
            let sequence = context.current_sequence as u64 + 1;
            cqrs_es::Aggregate::apply(&mut context.aggregate, event.clone());
            let snapshot = serde_json::to_value(&context.aggregate)?;
            let events = [serialized(account, sequence, &event)?];
            self.repository().persist::<BankAccount>(&events, Some((account.to_owned(), snapshot, 1))).await?;
            Ok(())
        })
    }

    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            let store = PersistedEventStore::<_, BankAccount>::new_event_store(self.repository());
            Ok(store.load_aggregate(account).await?.aggregate.0)
        })
    }

    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            let store = PersistedEventStore::<_, BankAccount>::new_snapshot_store(self.repository(), SNAPSHOT_EVERY);
            let context = store.load_aggregate(account).await?;
            if context.current_snapshot.is_none() {
                return Err("no snapshot was loaded".into());
            }
            Ok(context.aggregate.0)
        })
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async move {
            let balances = Balances::default();
            QueryReplay::new(self.repository(), balances.clone()).replay_all().await?;
            let balances = balances.0.lock().unwrap();
            Ok((balances.len() as u64, balances.values().sum()))
        })
    }

    fn projected(&self) -> BoxFuture<'_, Result<Option<Vec<u64>>>> {
        Box::pin(async move { Ok(Some(self.queries.iter().map(CountingQuery::counted).collect())) })
    }
}
