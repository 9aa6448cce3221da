//! eventsmith through its public API (`App::execute`, `App::load`, `EventStore::append`,
//! `EventStore::append_streams` for the import,
//! `#[projection]`s caught up by `App::builder().build()`), on any of its stores. Three
//! variants: as configured by default (the aggregate cache on), with the cache off (every
//! command loads its aggregate, as the peers' do), and without projections (case h's
//! reference).

use std::path::PathBuf;
use std::sync::Arc;

use eventsmith::store::{EventStore, NewEvent, PostgresOptions, SqliteOptions, StreamAppend};
use eventsmith::{App, ExecuteError, ExpectedVersion, MemoryStore, PostgresStore, SqliteStore};

use crate::cases::{Case, Sizes};
use crate::contender::{BoxFuture, Contender, Outcome, Result, Role, Session};
use crate::domain::read_models::{
    ActivityCounted, BalancesByAccount, BalancesCounted, CountCounted, DepositCount, DepositsPerAccount, LastActivity,
    PerAccountCounted, RecentCounted, RecentDeposits, TotalCounted, TotalDeposited,
};
use crate::domain::{
    Account, AccountEvent, Balances, Deposit, DepositSnapshotted, Open, SnapshottedAccount, TotalBalance,
};

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum Backend {
    Postgres { url: String },
    Sqlite { directory: PathBuf },
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The default configuration: recently used aggregates cached.
    Default,
    /// `AppBuilder::aggregate_cache(0)`: every command loads its aggregate from the store.
    CacheOff,
    /// Case h without its projections.
    NoProjections,
}

pub struct Eventsmith {
    backend: Backend,
    variant: Variant,
}

impl Eventsmith {
    pub fn new(backend: Backend, variant: Variant) -> Self {
        Eventsmith { backend, variant }
    }

    fn label(&self) -> &'static str {
        match self.variant {
            Variant::Default => "",
            Variant::CacheOff => "_cache_off",
            Variant::NoProjections => "_no_projections",
        }
    }

    async fn open_store(&self, case: Case, sizes: &Sizes) -> Result<(Arc<dyn EventStore>, Option<PathBuf>)> {
        let name = format!("eventsmith_{}{}", case.letter(), self.label());
        Ok(match &self.backend {
            Backend::Postgres { url } => {
                let options = PostgresOptions { schema: name, pool_size: sizes.pool_size as usize, migrate: true };
                (Arc::new(PostgresStore::connect_with(url, options).await?), None)
            }
            Backend::Sqlite { directory } => {
                let path = directory.join(format!("{name}.db"));
                (Arc::new(SqliteStore::open_with(&path, SqliteOptions::default()).await?), Some(path))
            }
            Backend::Memory => (Arc::new(MemoryStore::new()), None),
        })
    }
}

impl Contender for Eventsmith {
    fn name(&self) -> String {
        match self.variant {
            Variant::Default => "eventsmith",
            Variant::CacheOff => "eventsmith, cache off",
            Variant::NoProjections => "eventsmith, no projections",
        }
        .to_owned()
    }

    fn role(&self) -> Role {
        if self.variant == Variant::Default { Role::Eventsmith } else { Role::EventsmithVariant }
    }

    fn unsupported(&self, case: Case) -> Option<&'static str> {
        match self.variant {
            Variant::CacheOff if !case.is_commands() => Some("the aggregate cache only serves commands"),
            Variant::NoProjections if case != Case::Projections => Some("only case h registers projections"),
            _ => None,
        }
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>> {
        Box::pin(async move {
            let (store, file) = self.open_store(case, sizes).await?;
            // Conflicts are retried by the harness, the same way for every contender.
            let mut builder = App::builder().shared_store(Arc::clone(&store)).max_retries(0);
            let projections = case == Case::Projections && self.variant != Variant::NoProjections;
            if self.variant == Variant::CacheOff {
                builder = builder.aggregate_cache(0);
            }
            if projections {
                builder = builder
                    .projection::<BalancesByAccount>()
                    .projection::<DepositCount>()
                    .projection::<TotalDeposited>()
                    .projection::<LastActivity>()
                    .projection::<DepositsPerAccount>()
                    .projection::<RecentDeposits>();
            }
            let app = builder.build().await?;
            let session: Arc<dyn Session> = Arc::new(EventsmithSession { app, store, case, file, projections });
            Ok(session)
        })
    }
}

struct EventsmithSession {
    app: App,
    store: Arc<dyn EventStore>,
    case: Case,
    /// The SQLite file, for `ANALYZE`.
    file: Option<PathBuf>,
    /// Whether case h's projections are registered.
    projections: bool,
}

impl EventsmithSession {
    /// The stream of `account`: case e's accounts are snapshotted ones.
    fn stream(&self, account: &str) -> String {
        if self.case == Case::LoadSnapshot {
            format!("SnapshottedAccount-{account}")
        } else {
            format!("Account-{account}")
        }
    }
}

fn outcome<E: std::error::Error + Send + Sync + 'static>(result: Result<(), ExecuteError<E>>) -> Result<Outcome> {
    match result {
        Ok(()) => Ok(Outcome::Committed),
        Err(ExecuteError::Conflict { .. }) => Ok(Outcome::Conflict),
        Err(other) => Err(other.into()),
    }
}

impl Session for EventsmithSession {
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.app.execute(Open { account: account.to_owned() }).await?;
            Ok(())
        })
    }

    fn append<'a>(&'a self, account: &'a str, version: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let events = events.iter().map(NewEvent::encode).collect::<Result<Vec<_>, _>>()?;
            self.store.append(&self.stream(account), ExpectedVersion::Exact(version), events).await?;
            Ok(())
        })
    }

    /// The store's bulk path, `append_streams`: every stream in one call (one transaction on
    /// SQLite, one `COPY` on PostgreSQL), each at its expected version.
    fn import<'a>(&'a self, streams: &'a [(String, Vec<AccountEvent>)]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut appends = Vec::with_capacity(streams.len());
            for (account, events) in streams {
                let events = events.iter().map(NewEvent::encode).collect::<Result<Vec<_>, _>>()?;
                appends.push(StreamAppend {
                    stream_id: self.stream(account),
                    expected: ExpectedVersion::NoStream,
                    events,
                });
            }
            for outcome in self.store.append_streams(appends).await {
                outcome?;
            }
            Ok(())
        })
    }

    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(async move {
            let account = account.to_owned();
            if self.case == Case::LoadSnapshot {
                outcome(self.app.execute(DepositSnapshotted { account, amount: 1 }).await.map(drop))
            } else {
                outcome(self.app.execute(Deposit { account, amount: 1 }).await.map(drop))
            }
        })
    }

    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        // The deposit's commit reaches a multiple of `snapshot_every`, so the app stores the
        // snapshot itself.
        Box::pin(async move {
            self.app.execute(DepositSnapshotted { account: account.to_owned(), amount: 1 }).await?;
            Ok(())
        })
    }

    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { Ok(self.app.load::<Account>(account).await?.state) })
    }

    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { Ok(self.app.load::<SnapshottedAccount>(account).await?.state.0) })
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async move {
            let app = App::builder().shared_store(Arc::clone(&self.store)).projection::<Balances>().build().await?;
            let (accounts, total) = app.query(TotalBalance).await?;
            Ok((accounts as u64, total))
        })
    }

    fn projected(&self) -> BoxFuture<'_, Result<Option<Vec<u64>>>> {
        Box::pin(async move {
            if !self.projections {
                return Ok(None);
            }
            Ok(Some(vec![
                self.app.query(BalancesCounted).await?,
                self.app.query(CountCounted).await?,
                self.app.query(TotalCounted).await?,
                self.app.query(ActivityCounted).await?,
                self.app.query(PerAccountCounted).await?,
                self.app.query(RecentCounted).await?,
            ]))
        })
    }

    fn analyze(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if let Some(file) = &self.file {
                rusqlite::Connection::open(file)?.execute_batch("ANALYZE")?;
            }
            Ok(())
        })
    }
}
