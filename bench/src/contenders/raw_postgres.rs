//! The PostgreSQL baseline: tokio-postgres with a deadpool pool of the same size as every
//! contender's, on a table of the same shape as eventsmith's, doing by hand what a command, a
//! load or a catch-up needs and nothing more.
//!
//! What it does not do that eventsmith does: no check of the expected version before writing
//! (a command inserts at the version the baseline remembers, and the unique (stream, version)
//! key refuses a taken one), no store-wide lock (so readers of the log may see a later position
//! before an earlier one commits), no notification, no metadata, no idempotency check of
//! event ids. A contended command (case c) computes its version inside the `INSERT` and is
//! retried on the unique violation. Loads and the catch-up stream their rows (`query_raw`),
//! decode each payload into the typed event and fold it by hand. Histories and the import are
//! binary `COPY`s, one transaction per stream; the "one COPY" variant imports every stream in
//! one `COPY` and one transaction (case f only).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Transaction};
use uuid::Uuid;

use super::codec::{Balances, decode, deposit, encode, opened};
use crate::cases::{Case, Sizes};
use crate::contender::{BoxFuture, Contender, Outcome, Result, Role, Session};
use crate::domain::read_models::ByHand;
use crate::domain::{Account, AccountEvent};

const TABLES: &str = "
    CREATE TABLE raw_events (
        position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
        stream_id text NOT NULL, stream_version bigint NOT NULL, event_type text NOT NULL,
        event_version integer NOT NULL, payload bytea NOT NULL, metadata bytea,
        recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, stream_version));
    CREATE INDEX raw_events_by_type ON raw_events (event_type, position);
    CREATE TABLE raw_snapshots (stream_id text PRIMARY KEY, version bigint NOT NULL, state bytea NOT NULL);";

const INSERT: &str = "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
    VALUES ($1, $2, $3, $4, 1, $5) RETURNING position";

const INSERT_NEXT: &str =
    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
    SELECT $1, $2, COALESCE(MAX(stream_version), 0) + 1, $3, 1, $4 FROM raw_events WHERE stream_id = $2";

const LOAD: &str =
    "SELECT event_type, payload FROM raw_events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version";

const SCAN: &str = "SELECT stream_id, event_type, payload FROM raw_events ORDER BY position";

pub struct RawPostgres {
    url: String,
    one_copy: bool,
}

impl RawPostgres {
    /// The baseline: one transaction per stream in the import.
    pub fn new(url: String) -> Self {
        RawPostgres { url, one_copy: false }
    }

    /// The import as one `COPY` in one transaction.
    pub fn one_copy(url: String) -> Self {
        RawPostgres { url, one_copy: true }
    }
}

impl Contender for RawPostgres {
    fn name(&self) -> String {
        if self.one_copy { "raw tokio-postgres, one COPY" } else { "raw tokio-postgres" }.to_owned()
    }

    fn role(&self) -> Role {
        if self.one_copy { Role::RawVariant } else { Role::Baseline }
    }

    fn unsupported(&self, case: Case) -> Option<&'static str> {
        (self.one_copy && case != Case::Import).then_some("only the import has a one-COPY form")
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>> {
        Box::pin(async move {
            let schema = format!("raw_{}{}", case.letter(), if self.one_copy { "_one_copy" } else { "" });
            let mut config = tokio_postgres::Config::from_str(&self.url)?;
            let (admin, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            admin.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path = {schema}; {TABLES}")).await?;
            config.options(format!("-c search_path={schema}"));
            let manager =
                Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
            let pool = Pool::builder(manager).max_size(sizes.pool_size as usize).build()?;
            let session: Arc<dyn Session> = Arc::new(RawPostgresSession {
                pool,
                versions: Mutex::new(HashMap::new()),
                contended: case == Case::Contended,
                one_copy: self.one_copy,
                read_models: (case == Case::Projections).then(|| Mutex::new(ByHand::default())),
            });
            Ok(session)
        })
    }
}

struct RawPostgresSession {
    pool: Pool,
    /// The version of every account, as the baseline's own commands left it.
    versions: Mutex<HashMap<String, i64>>,
    /// Case c: commands compute their version in the `INSERT`.
    contended: bool,
    one_copy: bool,
    /// Case h: the six read models, updated after each command commits.
    read_models: Option<Mutex<ByHand>>,
}

/// One binary `COPY` of `rows` (stream, version, event) inside `transaction`.
async fn copy(transaction: &Transaction<'_>, rows: &[(&str, i64, &AccountEvent)]) -> Result<u64> {
    let sink = transaction
        .copy_in("COPY raw_events (event_id, stream_id, stream_version, event_type, event_version, payload) FROM STDIN BINARY")
        .await?;
    let types = [Type::UUID, Type::TEXT, Type::INT8, Type::TEXT, Type::INT4, Type::BYTEA];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for (stream, version, event) in rows {
        let (stream, version, event) = (*stream, *version, *event);
        let (event_type, payload) = encode(event)?;
        let row: [&(dyn ToSql + Sync); 6] = [&Uuid::now_v7(), &stream, &version, &event_type, &1_i32, &payload];
        writer.as_mut().write(&row).await?;
    }
    Ok(writer.finish().await?)
}

impl RawPostgresSession {
    async fn client(&self) -> Result<Object> {
        Ok(self.pool.get().await?)
    }

    /// Folds the events of `account` after `after` into `state`, streaming the rows.
    async fn fold(&self, account: &str, after: i64, mut state: Account) -> Result<Account> {
        let client = self.client().await?;
        let statement = client.prepare_cached(LOAD).await?;
        let params: [&(dyn ToSql + Sync); 2] = [&account, &after];
        let rows = client.query_raw(&statement, params).await?;
        pin_mut!(rows);
        while let Some(row) = rows.try_next().await? {
            state.fold(&decode(row.get(0), row.get(1))?);
        }
        Ok(state)
    }

    /// Inserts `event` at the version after the remembered one; returns its position.
    async fn insert_next(&self, account: &str, event: &AccountEvent) -> Result<i64> {
        let version = self.versions.lock().unwrap().get(account).copied().unwrap_or(0) + 1;
        let (event_type, payload) = encode(event)?;
        let client = self.client().await?;
        let statement = client.prepare_cached(INSERT).await?;
        let row = client.query_one(&statement, &[&Uuid::now_v7(), &account, &version, &event_type, &payload]).await?;
        self.versions.lock().unwrap().insert(account.to_owned(), version);
        Ok(row.get(0))
    }
}

impl Session for RawPostgresSession {
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.insert_next(account, &opened(account)).await?;
            Ok(())
        })
    }

    fn append<'a>(&'a self, account: &'a str, version: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let first = version as i64 + 1;
            let rows: Vec<_> = events.iter().zip(first..).map(|(event, version)| (account, version, event)).collect();
            copy(&transaction, &rows).await?;
            transaction.commit().await?;
            self.versions.lock().unwrap().insert(account.to_owned(), version as i64 + events.len() as i64);
            Ok(())
        })
    }

    fn import<'a>(&'a self, streams: &'a [(String, Vec<AccountEvent>)]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !self.one_copy {
                for (account, events) in streams {
                    self.append(account, 0, events).await?;
                }
                return Ok(());
            }
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let mut rows = Vec::new();
            for (account, events) in streams {
                rows.extend(events.iter().zip(1..).map(|(event, version)| (account.as_str(), version, event)));
            }
            copy(&transaction, &rows).await?;
            transaction.commit().await?;
            Ok(())
        })
    }

    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(async move {
            let event = deposit();
            if !self.contended {
                let position = self.insert_next(account, &event).await?;
                if let Some(read_models) = &self.read_models {
                    read_models.lock().unwrap().apply(account, position as u64, &event);
                }
                return Ok(Outcome::Committed);
            }
            let (event_type, payload) = encode(&event)?;
            let client = self.client().await?;
            let statement = client.prepare_cached(INSERT_NEXT).await?;
            match client.execute(&statement, &[&Uuid::now_v7(), &account, &event_type, &payload]).await {
                Ok(_) => Ok(Outcome::Committed),
                Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                    Ok(Outcome::Conflict)
                }
                Err(error) => Err(error.into()),
            }
        })
    }

    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.insert_next(account, &deposit()).await?;
            let state = serde_json::to_vec(&self.fold(account, 0, Account::default()).await?)?;
            let version = self.versions.lock().unwrap()[account];
            let client = self.client().await?;
            client.execute("INSERT INTO raw_snapshots VALUES ($1, $2, $3)", &[&account, &version, &state]).await?;
            Ok(())
        })
    }

    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(self.fold(account, 0, Account::default()))
    }

    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            let (version, state) = {
                let client = self.client().await?;
                let statement =
                    client.prepare_cached("SELECT version, state FROM raw_snapshots WHERE stream_id = $1").await?;
                let row = client.query_one(&statement, &[&account]).await?;
                (row.get::<_, i64>(0), serde_json::from_slice::<Account>(row.get(1))?)
            };
            self.fold(account, version, state).await
        })
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async move {
            let client = self.client().await?;
            let statement = client.prepare_cached(SCAN).await?;
            let rows = client.query_raw(&statement, std::iter::empty::<i64>()).await?;
            pin_mut!(rows);
            let mut balances = Balances::default();
            while let Some(row) = rows.try_next().await? {
                balances.apply(row.get(0), &decode(row.get(1), row.get(2))?);
            }
            Ok(balances.totals())
        })
    }

    fn projected(&self) -> BoxFuture<'_, Result<Option<Vec<u64>>>> {
        Box::pin(async move {
            let read_models = self.read_models.as_ref().ok_or("no read models in this case")?;
            Ok(Some(read_models.lock().unwrap().counted()))
        })
    }
}
