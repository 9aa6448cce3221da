//! The SQLite baseline: rusqlite with eventsmith's settings (WAL, `synchronous = FULL`) on a
//! table of the same shape, one connection (SQLite has one writer), one transaction per
//! command and per batch.
//!
//! What it does not do that eventsmith does: no check of the expected version before writing
//! (the unique (stream, version) key refuses a taken one), no metadata, no idempotency check
//! of event ids, no group commit of concurrent appends, no notification of readers. Loads and
//! the catch-up read borrowed rows, decode each payload into the typed event and fold it by
//! hand.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::codec::{Balances, decode, deposit, encode, opened};
use crate::cases::{Case, Sizes};
use crate::contender::{BoxFuture, Contender, Outcome, Result, Role, Session};
use crate::domain::read_models::ByHand;
use crate::domain::{Account, AccountEvent};

const TABLES: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE events (
        position INTEGER PRIMARY KEY AUTOINCREMENT, event_id BLOB NOT NULL UNIQUE,
        stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL, event_type TEXT NOT NULL,
        event_version INTEGER NOT NULL, payload BLOB NOT NULL, metadata BLOB,
        recorded_at INTEGER NOT NULL, UNIQUE (stream_id, stream_version));
    CREATE INDEX events_by_type ON events (event_type, position);
    CREATE TABLE snapshots (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL, state BLOB NOT NULL);";

const INSERT: &str =
    "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at)
    VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)";

const INSERT_NEXT: &str =
    "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at)
    SELECT ?1, ?2, COALESCE(MAX(stream_version), 0) + 1, ?3, 1, ?4, ?5 FROM events WHERE stream_id = ?2";

pub struct RawSqlite {
    directory: PathBuf,
}

impl RawSqlite {
    pub fn new(directory: PathBuf) -> Self {
        RawSqlite { directory }
    }
}

impl Contender for RawSqlite {
    fn name(&self) -> String {
        "raw rusqlite".to_owned()
    }

    fn role(&self) -> Role {
        Role::Baseline
    }

    fn prepare<'a>(&'a mut self, case: Case, _: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>> {
        Box::pin(async move {
            let connection = rusqlite::Connection::open(self.directory.join(format!("raw_{}.db", case.letter())))?;
            connection.execute_batch(TABLES)?;
            // As eventsmith's connections: a statement's plan does not depend on the values
            // bound to it, so that a cached statement is not compiled again at each use.
            connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
            let session: Arc<dyn Session> = Arc::new(RawSqliteSession {
                connection: Mutex::new(connection),
                versions: Mutex::new(HashMap::new()),
                contended: case == Case::Contended,
                read_models: (case == Case::Projections).then(|| Mutex::new(ByHand::default())),
            });
            Ok(session)
        })
    }
}

struct RawSqliteSession {
    connection: Mutex<rusqlite::Connection>,
    versions: Mutex<HashMap<String, i64>>,
    contended: bool,
    read_models: Option<Mutex<ByHand>>,
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_micros() as i64)
}

fn insert(connection: &rusqlite::Connection, stream: &str, version: i64, event: &AccountEvent) -> Result<i64> {
    let (event_type, payload) = encode(event)?;
    connection.prepare_cached(INSERT)?.execute(rusqlite::params![
        Uuid::now_v7().as_bytes().as_slice(),
        stream,
        version,
        event_type,
        payload,
        now_micros()
    ])?;
    Ok(connection.last_insert_rowid())
}

fn fold(connection: &rusqlite::Connection, stream: &str, after: i64, mut state: Account) -> Result<Account> {
    let mut statement = connection.prepare_cached(
        "SELECT event_type, payload FROM events WHERE stream_id = ?1 AND stream_version > ?2 ORDER BY stream_version",
    )?;
    let mut rows = statement.query(rusqlite::params![stream, after])?;
    while let Some(row) = rows.next()? {
        state.fold(&decode(row.get_ref(0)?.as_str()?, row.get_ref(1)?.as_blob()?)?);
    }
    Ok(state)
}

impl RawSqliteSession {
    /// Runs `work` on the connection, off the async executor's turn.
    fn with<T>(&self, work: impl FnOnce(&mut rusqlite::Connection) -> Result<T>) -> Result<T> {
        tokio::task::block_in_place(|| work(&mut self.connection.lock().unwrap()))
    }

    /// Inserts `event` at the version after the remembered one; returns its position.
    fn insert_next(&self, account: &str, event: &AccountEvent) -> Result<i64> {
        let version = self.versions.lock().unwrap().get(account).copied().unwrap_or(0) + 1;
        let position = self.with(|connection| insert(connection, account, version, event))?;
        self.versions.lock().unwrap().insert(account.to_owned(), version);
        Ok(position)
    }
}

impl Session for RawSqliteSession {
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.insert_next(account, &opened(account))?;
            Ok(())
        })
    }

    fn append<'a>(&'a self, account: &'a str, version: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.with(|connection| {
                let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for (event, version) in events.iter().zip(version as i64 + 1..) {
                    insert(&transaction, account, version, event)?;
                }
                transaction.commit()?;
                Ok(())
            })?;
            self.versions.lock().unwrap().insert(account.to_owned(), version as i64 + events.len() as i64);
            Ok(())
        })
    }

    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(async move {
            let event = deposit();
            if self.contended {
                // One writer: the computed version never conflicts.
                let (event_type, payload) = encode(&event)?;
                self.with(|connection| {
                    connection.prepare_cached(INSERT_NEXT)?.execute(rusqlite::params![
                        Uuid::now_v7().as_bytes().as_slice(),
                        account,
                        event_type,
                        payload,
                        now_micros()
                    ])?;
                    Ok(())
                })?;
            } else {
                let position = self.insert_next(account, &event)?;
                if let Some(read_models) = &self.read_models {
                    read_models.lock().unwrap().apply(account, position as u64, &event);
                }
            }
            Ok(Outcome::Committed)
        })
    }

    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.insert_next(account, &deposit())?;
            let version = self.versions.lock().unwrap()[account];
            self.with(|connection| {
                let state = serde_json::to_vec(&fold(connection, account, 0, Account::default())?)?;
                connection
                    .execute("INSERT INTO snapshots VALUES (?1, ?2, ?3)", rusqlite::params![account, version, state])?;
                Ok(())
            })
        })
    }

    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { self.with(|connection| fold(connection, account, 0, Account::default())) })
    }

    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            self.with(|connection| {
                let (version, snapshot) = connection
                    .prepare_cached("SELECT version, state FROM snapshots WHERE stream_id = ?1")?
                    .query_row([account], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
                fold(connection, account, version, serde_json::from_slice(&snapshot)?)
            })
        })
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async move {
            self.with(|connection| {
                let mut statement =
                    connection.prepare_cached("SELECT stream_id, event_type, payload FROM events ORDER BY position")?;
                let mut rows = statement.query([])?;
                let mut balances = Balances::default();
                while let Some(row) = rows.next()? {
                    let event = decode(row.get_ref(1)?.as_str()?, row.get_ref(2)?.as_blob()?)?;
                    balances.apply(row.get_ref(0)?.as_str()?, &event);
                }
                Ok(balances.totals())
            })
        })
    }

    fn projected(&self) -> BoxFuture<'_, Result<Option<Vec<u64>>>> {
        Box::pin(async move {
            let read_models = self.read_models.as_ref().ok_or("no read models in this case")?;
            Ok(Some(read_models.lock().unwrap().counted()))
        })
    }

    fn analyze(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.with(|connection| Ok(connection.execute_batch("ANALYZE")?)) })
    }
}
