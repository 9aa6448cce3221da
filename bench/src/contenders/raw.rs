//! The baselines: the drivers doing the equivalent work with no library in between, on a table
//! of the same shape as eventsmith's. A command is one INSERT at a version the baseline already
//! knows (the physical limit of a conditional append); a contended command computes the version
//! in the INSERT and retries on the unique violation; loads and catch-up are one SELECT, a typed
//! decode and a hand-written fold; the PostgreSQL import is one binary COPY. Event ids are
//! UUIDv7, as eventsmith's: time-ordered keys keep the unique index append-only (random v4
//! keys made the raw imports several times slower than the store's).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

use crate::domain::{Account, AccountEvent, Deposited, Opened, Withdrawn, history_event, history_state};
use crate::harness::{
    BoxFuture, Case, Contender, Result, Sample, Sizes, add_counts, check, check_contended, timed, timed_loads,
};

/// The typed encode every baseline does: type name and JSON payload.
pub fn encode(event: &AccountEvent) -> Result<(&'static str, Vec<u8>)> {
    Ok(match event {
        AccountEvent::Opened(event) => ("Opened", serde_json::to_vec(event)?),
        AccountEvent::Deposited(event) => ("Deposited", serde_json::to_vec(event)?),
        AccountEvent::Withdrawn(event) => ("Withdrawn", serde_json::to_vec(event)?),
    })
}

/// The typed decode every baseline does: straight from the bytes into the variant.
pub fn decode(event_type: &str, payload: &[u8]) -> Result<AccountEvent> {
    Ok(match event_type {
        "Opened" => AccountEvent::Opened(serde_json::from_slice::<Opened>(payload)?),
        "Deposited" => AccountEvent::Deposited(serde_json::from_slice::<Deposited>(payload)?),
        "Withdrawn" => AccountEvent::Withdrawn(serde_json::from_slice::<Withdrawn>(payload)?),
        other => return Err(format!("unknown event type {other}").into()),
    })
}

fn deposit() -> AccountEvent {
    Deposited { amount: 1 }.into()
}

/// Folds `(stream, event)` pairs into balances per stream: the catch-up's projection.
fn project(balances: &mut HashMap<String, i64>, stream: &str, event: &AccountEvent) {
    let amount = match event {
        AccountEvent::Opened(_) => 0,
        AccountEvent::Deposited(event) => event.amount,
        AccountEvent::Withdrawn(event) => -event.amount,
    };
    match balances.get_mut(stream) {
        Some(balance) => *balance += amount,
        None => {
            balances.insert(stream.to_owned(), amount);
        }
    }
}

pub fn check_balances(balances: &HashMap<String, i64>, sizes: &Sizes) -> Result<()> {
    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
    let expected = history_state(per_stream).balance * sizes.catch_up_streams as i64;
    let total: i64 = balances.values().sum();
    check(balances.len() as u64 == sizes.catch_up_streams && total == expected, || {
        format!("{} accounts, total {total}; expected {expected}", balances.len())
    })
}

/// The stream of case `case`'s account `index` (the names do not matter to a baseline).
fn account(case: Case, index: impl std::fmt::Display) -> String {
    format!("{}{index}", case.letter())
}

const PG_TABLES: &str = "
    CREATE TABLE raw_events (
        position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
        stream_id text NOT NULL, stream_version bigint NOT NULL, event_type text NOT NULL,
        event_version integer NOT NULL, payload bytea NOT NULL, metadata bytea,
        recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, stream_version));
    CREATE INDEX raw_events_by_type ON raw_events (event_type, position);
    CREATE TABLE raw_snapshots (stream_id text PRIMARY KEY, version bigint NOT NULL, state bytea NOT NULL);";

const PG_INSERT: &str =
    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
    VALUES ($1, $2, $3, $4, 1, $5)";

const PG_INSERT_NEXT: &str =
    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, event_version, payload)
    SELECT $1, $2, COALESCE(MAX(stream_version), 0) + 1, $3, 1, $4 FROM raw_events WHERE stream_id = $2";

/// Raw tokio-postgres.
pub struct RawPostgres {
    url: String,
    schema: String,
    clients: Vec<Arc<Client>>,
    statements: std::sync::OnceLock<Statements>,
    versions: Mutex<HashMap<String, i64>>,
}

/// The statements, prepared on the first client when a case is set up; the other clients
/// prepare theirs before the timing starts.
struct Statements {
    insert: Statement,
    load: Statement,
    snapshot: Statement,
    scan: Statement,
}

impl RawPostgres {
    pub fn new(url: String) -> Self {
        RawPostgres {
            url,
            schema: String::new(),
            clients: Vec::new(),
            statements: std::sync::OnceLock::new(),
            versions: Mutex::new(HashMap::new()),
        }
    }

    async fn connect(&self) -> Result<Client> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await?;
        tokio::spawn(connection);
        client.execute("SELECT set_config('search_path', $1, false)", &[&self.schema]).await?;
        Ok(client)
    }

    fn client(&self) -> &Client {
        &self.clients[0]
    }

    /// One binary COPY of `rows`.
    async fn copy(&self, rows: impl Iterator<Item = (String, i64, AccountEvent)>) -> Result<u64> {
        let sink = self
            .client()
            .copy_in(
                "COPY raw_events (event_id, stream_id, stream_version, event_type, event_version, payload) FROM STDIN BINARY",
            )
            .await?;
        let types = [Type::UUID, Type::TEXT, Type::INT8, Type::TEXT, Type::INT4, Type::BYTEA];
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        for (stream, version, event) in rows {
            let (event_type, payload) = encode(&event)?;
            let row: [&(dyn ToSql + Sync); 6] = [&Uuid::now_v7(), &stream, &version, &event_type, &1_i32, &payload];
            writer.as_mut().write(&row).await?;
        }
        Ok(writer.finish().await?)
    }

    async fn history(&self, stream: &str, count: u64) -> Result<()> {
        let stream = stream.to_owned();
        self.copy((0..count).map(move |index| (stream.clone(), index as i64 + 1, history_event(&stream, index))))
            .await?;
        Ok(())
    }

    async fn load(&self, stream: &str, after: i64, mut state: Account) -> Result<Account> {
        let statement = self.statements.get().expect("prepared");
        for row in self.client().query(&statement.load, &[&stream, &after]).await? {
            state.fold(&decode(row.get(0), row.get(1))?);
        }
        Ok(state)
    }

    async fn open(&self, accounts: impl Iterator<Item = String>) -> Result<()> {
        let accounts: Vec<String> = accounts.collect();
        self.copy(accounts.iter().map(|account| (account.clone(), 1, Opened { account: account.clone() }.into())))
            .await?;
        self.versions.lock().unwrap().extend(accounts.into_iter().map(|account| (account, 1)));
        Ok(())
    }

    async fn contended_total(&self, sizes: &Sizes) -> Result<i64> {
        let mut total = 0;
        for index in 0..sizes.contended_aggregates {
            total += self.load(&account(Case::Contended, index), 0, Account::default()).await?.balance;
        }
        Ok(total)
    }
}

async fn insert(
    client: &Client,
    statement: &Statement,
    stream: &str,
    version: i64,
    event: &AccountEvent,
) -> Result<()> {
    let (event_type, payload) = encode(event)?;
    client.execute(statement, &[&Uuid::now_v7(), &stream, &version, &event_type, &payload]).await?;
    Ok(())
}

impl Contender for RawPostgres {
    fn name(&self) -> &str {
        "raw tokio-postgres"
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.schema = format!("raw_{}", case.letter());
            let admin = self.connect().await?;
            admin.batch_execute(&format!("CREATE SCHEMA {}", self.schema)).await?;
            admin.batch_execute(PG_TABLES).await?;
            let statements = Statements {
                insert: admin.prepare(PG_INSERT).await?,
                load: admin
                    .prepare(
                        "SELECT event_type, payload FROM raw_events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version",
                    )
                    .await?,
                snapshot: admin.prepare("SELECT version, state FROM raw_snapshots WHERE stream_id = $1").await?,
                scan: admin.prepare("SELECT stream_id, event_type, payload FROM raw_events ORDER BY position").await?,
            };
            self.statements = std::sync::OnceLock::from(statements);
            self.clients = vec![Arc::new(admin)];
            for _ in 1..sizes.tasks {
                self.clients.push(Arc::new(self.connect().await?));
            }
            match case {
                Case::Sequential => self.open((0..sizes.aggregates).map(|index| account(case, index))).await?,
                Case::Concurrent => {
                    let accounts = (0..sizes.tasks)
                        .flat_map(|task| (0..sizes.accounts_per_task).map(move |index| format!("{task}-{index}")));
                    self.open(accounts.map(|index| account(case, index))).await?;
                }
                Case::Contended => {
                    self.open((0..sizes.contended_aggregates).map(|index| account(case, index))).await?;
                }
                Case::Load => self.history("d", sizes.history).await?,
                Case::LoadSnapshot => {
                    self.history("e", sizes.history).await?;
                    let state = serde_json::to_vec(&history_state(sizes.history))?;
                    let version = sizes.history as i64;
                    self.client()
                        .execute("INSERT INTO raw_snapshots VALUES ($1, $2, $3)", &[&"e", &version, &state])
                        .await?;
                }
                Case::Import => {}
                Case::CatchUp => {
                    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
                    self.copy((0..sizes.catch_up_streams).flat_map(|stream| {
                        let stream = account(case, stream);
                        (0..per_stream)
                            .map(move |index| (stream.clone(), index as i64 + 1, history_event(&stream, index)))
                    }))
                    .await?;
                }
            }
            Ok(())
        })
    }

    fn run<'a>(&'a self, case: Case, round: u64, sizes: &'a Sizes) -> BoxFuture<'a, Result<Sample>> {
        Box::pin(async move {
            let mut prepared = Vec::new();
            if matches!(case, Case::Concurrent | Case::Contended) {
                let sql = if case == Case::Concurrent { PG_INSERT } else { PG_INSERT_NEXT };
                for client in &self.clients {
                    prepared.push(client.prepare(sql).await?);
                }
            }
            match case {
                Case::Sequential => {
                    let version = round as i64 + 2;
                    let statement = &self.statements.get().expect("prepared").insert;
                    let (elapsed, ()) = timed(async {
                        for index in 0..sizes.aggregates {
                            insert(self.client(), statement, &account(case, index), version, &deposit()).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.aggregates, ..Sample::default() })
                }
                Case::Concurrent => {
                    let tasks: Vec<_> = (0..sizes.tasks)
                        .map(|task| {
                            let versions = self.versions.lock().unwrap();
                            let accounts: Vec<(String, i64)> = (0..sizes.accounts_per_task)
                                .map(|index| {
                                    let account = account(case, format!("{task}-{index}"));
                                    let version = versions[&account];
                                    (account, version)
                                })
                                .collect();
                            (Arc::clone(&self.clients[task as usize]), prepared[task as usize].clone(), accounts)
                        })
                        .collect();
                    let commands = sizes.commands_per_task;
                    let (elapsed, finished) = timed(async {
                        let handles: Vec<_> = tasks
                            .into_iter()
                            .map(|(client, statement, mut accounts)| {
                                tokio::spawn(async move {
                                    for command in 0..commands {
                                        let slot = (command % accounts.len() as u64) as usize;
                                        let (account, version) = &mut accounts[slot];
                                        *version += 1;
                                        insert(&client, &statement, account, *version, &deposit()).await?;
                                    }
                                    Ok::<_, crate::harness::BoxError>(accounts)
                                })
                            })
                            .collect();
                        let mut finished = Vec::new();
                        for handle in handles {
                            finished.extend(handle.await??);
                        }
                        Ok(finished)
                    })
                    .await?;
                    self.versions.lock().unwrap().extend(finished);
                    Ok(Sample { elapsed, operations: sizes.tasks * commands, ..Sample::default() })
                }
                Case::Contended => {
                    let before = self.contended_total(sizes).await?;
                    let (elapsed, (retries, failures)) = timed(async {
                        let handles: Vec<_> = (0..sizes.tasks)
                            .map(|task| {
                                let client = Arc::clone(&self.clients[task as usize]);
                                let statement = prepared[task as usize].clone();
                                let sizes = sizes.clone();
                                tokio::spawn(async move {
                                    let (event_type, payload) = encode(&deposit())?;
                                    let (mut retries, mut failures) = (0, 0);
                                    for command in 0..sizes.contended_per_task {
                                        let stream = account(case, (task + command) % sizes.contended_aggregates);
                                        let mut attempts = 0;
                                        loop {
                                            attempts += 1;
                                            let params: [&(dyn ToSql + Sync); 4] =
                                                [&Uuid::now_v7(), &stream, &event_type, &payload];
                                            match client.execute(&statement, &params).await {
                                                Ok(_) => break,
                                                Err(error)
                                                    if error.code()
                                                        == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                                                {
                                                    if attempts < sizes.max_attempts {
                                                        retries += 1;
                                                    } else {
                                                        failures += 1;
                                                        break;
                                                    }
                                                }
                                                Err(error) => return Err(error.into()),
                                            }
                                        }
                                    }
                                    Ok::<_, crate::harness::BoxError>((retries, failures))
                                })
                            })
                            .collect();
                        let mut counts = Vec::new();
                        for handle in handles {
                            counts.push(handle.await?);
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
                        timed_loads(sizes.loads_per_run, || async move { self.load("d", 0, Account::default()).await })
                            .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::LoadSnapshot => {
                    let statement = &self.statements.get().expect("prepared").snapshot;
                    let (elapsed, state) = timed_loads(sizes.loads_per_run, || async move {
                        let row = self.client().query_one(statement, &[&"e"]).await?;
                        let snapshot: Account = serde_json::from_slice(row.get(1))?;
                        self.load("e", row.get(0), snapshot).await
                    })
                    .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::Import => {
                    let (elapsed, copied) = timed(async {
                        let rows = (0..sizes.import_streams()).flat_map(|stream| {
                            let stream = format!("f{round}-{stream}");
                            (0..sizes.import_batch)
                                .map(move |index| (stream.clone(), index as i64 + 1, history_event(&stream, index)))
                        });
                        self.copy(rows).await
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: copied, ..Sample::default() })
                }
                Case::CatchUp => {
                    let (elapsed, balances) = timed(async {
                        let statement = &self.statements.get().expect("prepared").scan;
                        let rows = self.client().query_raw(statement, std::iter::empty::<i64>()).await?;
                        pin_mut!(rows);
                        let mut balances = HashMap::new();
                        while let Some(row) = rows.try_next().await? {
                            project(&mut balances, row.get(0), &decode(row.get(1), row.get(2))?);
                        }
                        Ok(balances)
                    })
                    .await?;
                    check_balances(&balances, sizes)?;
                    Ok(Sample { elapsed, operations: sizes.catch_up_events, ..Sample::default() })
                }
            }
        })
    }
}

/// Raw rusqlite, with the store's settings: WAL, `synchronous = FULL`, one transaction per
/// append, the same table.
pub struct RawSqlite {
    directory: PathBuf,
    connection: Option<Arc<Mutex<rusqlite::Connection>>>,
    versions: Mutex<HashMap<String, i64>>,
}

const SQLITE_TABLES: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE events (
        position INTEGER PRIMARY KEY AUTOINCREMENT, event_id BLOB NOT NULL UNIQUE,
        stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL, event_type TEXT NOT NULL,
        event_version INTEGER NOT NULL, payload BLOB NOT NULL, metadata BLOB,
        recorded_at INTEGER NOT NULL, UNIQUE (stream_id, stream_version));
    CREATE INDEX events_by_type ON events (event_type, position);
    CREATE TABLE snapshots (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL, state BLOB NOT NULL);";

const SQLITE_INSERT: &str =
    "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at)
    VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)";

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_micros() as i64)
}

fn sqlite_insert(connection: &rusqlite::Connection, stream: &str, version: i64, event: &AccountEvent) -> Result<()> {
    let (event_type, payload) = encode(event)?;
    connection.prepare_cached(SQLITE_INSERT)?.execute(rusqlite::params![
        Uuid::now_v7().as_bytes().as_slice(),
        stream,
        version,
        event_type,
        payload,
        now_micros()
    ])?;
    Ok(())
}

/// Appends `rows` in one transaction.
fn sqlite_batch(
    connection: &mut rusqlite::Connection,
    rows: impl Iterator<Item = (String, i64, AccountEvent)>,
) -> Result<u64> {
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut count = 0;
    for (stream, version, event) in rows {
        sqlite_insert(&transaction, &stream, version, &event)?;
        count += 1;
    }
    transaction.commit()?;
    Ok(count)
}

fn sqlite_load(connection: &rusqlite::Connection, stream: &str, after: i64, mut state: Account) -> Result<Account> {
    let mut statement = connection.prepare_cached(
        "SELECT event_type, payload FROM events WHERE stream_id = ?1 AND stream_version > ?2 ORDER BY stream_version",
    )?;
    let mut rows = statement.query(rusqlite::params![stream, after])?;
    while let Some(row) = rows.next()? {
        let event_type = row.get_ref(0)?.as_str()?;
        state.fold(&decode(event_type, row.get_ref(1)?.as_blob()?)?);
    }
    Ok(state)
}

impl RawSqlite {
    pub fn new(directory: PathBuf) -> Self {
        RawSqlite { directory, connection: None, versions: Mutex::new(HashMap::new()) }
    }

    fn with<T>(&self, work: impl FnOnce(&mut rusqlite::Connection) -> Result<T>) -> Result<T> {
        let mut connection = self.connection.as_ref().expect("prepared").lock().unwrap();
        tokio::task::block_in_place(|| work(&mut connection))
    }

    fn open(&self, accounts: Vec<String>) -> Result<()> {
        let rows = accounts.iter().map(|account| (account.clone(), 1, Opened { account: account.clone() }.into()));
        self.with(|connection| sqlite_batch(connection, rows))?;
        self.versions.lock().unwrap().extend(accounts.into_iter().map(|account| (account, 1)));
        Ok(())
    }

    fn history(&self, stream: &str, count: u64) -> Result<()> {
        let rows = (0..count).map(|index| (stream.to_owned(), index as i64 + 1, history_event(stream, index)));
        self.with(|connection| sqlite_batch(connection, rows))?;
        Ok(())
    }

    fn contended_total(&self, sizes: &Sizes) -> Result<i64> {
        self.with(|connection| {
            let mut total = 0;
            for index in 0..sizes.contended_aggregates {
                total += sqlite_load(connection, &account(Case::Contended, index), 0, Account::default())?.balance;
            }
            Ok(total)
        })
    }

    /// One command: the deposit at the next version, in a transaction of its own.
    fn deposit(&self, stream: &str) -> Result<()> {
        let version = {
            let mut versions = self.versions.lock().unwrap();
            let version = versions.get_mut(stream).ok_or("unknown account")?;
            *version += 1;
            *version
        };
        self.with(|connection| sqlite_insert(connection, stream, version, &deposit()))
    }
}

impl Contender for RawSqlite {
    fn name(&self) -> &str {
        "raw rusqlite"
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let connection = rusqlite::Connection::open(self.directory.join(format!("raw_{}.db", case.letter())))?;
            connection.execute_batch(SQLITE_TABLES)?;
            self.connection = Some(Arc::new(Mutex::new(connection)));
            match case {
                Case::Sequential => self.open((0..sizes.aggregates).map(|index| account(case, index)).collect())?,
                Case::Concurrent => self.open(
                    (0..sizes.tasks)
                        .flat_map(|task| {
                            (0..sizes.accounts_per_task).map(move |index| account(case, format!("{task}-{index}")))
                        })
                        .collect(),
                )?,
                Case::Contended => {
                    self.open((0..sizes.contended_aggregates).map(|index| account(case, index)).collect())?;
                }
                Case::Load => self.history("d", sizes.history)?,
                Case::LoadSnapshot => {
                    self.history("e", sizes.history)?;
                    let state = serde_json::to_vec(&history_state(sizes.history))?;
                    self.with(|connection| {
                        connection.execute(
                            "INSERT INTO snapshots VALUES ('e', ?1, ?2)",
                            rusqlite::params![sizes.history as i64, state],
                        )?;
                        Ok(())
                    })?;
                }
                Case::Import => {}
                Case::CatchUp => {
                    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
                    for stream in 0..sizes.catch_up_streams {
                        self.history(&account(case, stream), per_stream)?;
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
                            self.deposit(&account(case, index))?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.aggregates, ..Sample::default() })
                }
                Case::Concurrent => {
                    let this = &*self;
                    let (elapsed, ()) = timed(async {
                        let tasks = (0..sizes.tasks).map(|task| async move {
                            for command in 0..sizes.commands_per_task {
                                this.deposit(&account(case, format!("{task}-{}", command % sizes.accounts_per_task)))?;
                                tokio::task::yield_now().await;
                            }
                            Ok::<_, crate::harness::BoxError>(())
                        });
                        for result in futures_util::future::join_all(tasks).await {
                            result?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.tasks * sizes.commands_per_task, ..Sample::default() })
                }
                Case::Contended => {
                    let before = self.contended_total(sizes)?;
                    let this = &*self;
                    let (elapsed, ()) = timed(async {
                        let tasks = (0..sizes.tasks).map(|task| async move {
                            for command in 0..sizes.contended_per_task {
                                let stream = account(case, (task + command) % sizes.contended_aggregates);
                                let (event_type, payload) = encode(&deposit())?;
                                this.with(|connection| {
                                    connection
                                        .prepare_cached(
                                            "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, recorded_at)
                                             SELECT ?1, ?2, COALESCE(MAX(stream_version), 0) + 1, ?3, 1, ?4, ?5 FROM events WHERE stream_id = ?2",
                                        )?
                                        .execute(rusqlite::params![
                                            Uuid::now_v7().as_bytes().as_slice(),
                                            stream,
                                            event_type,
                                            payload,
                                            now_micros()
                                        ])?;
                                    Ok(())
                                })?;
                                tokio::task::yield_now().await;
                            }
                            Ok::<_, crate::harness::BoxError>(())
                        });
                        for result in futures_util::future::join_all(tasks).await {
                            result?;
                        }
                        Ok(())
                    })
                    .await?;
                    let operations = sizes.tasks * sizes.contended_per_task;
                    let after = self.contended_total(sizes)?;
                    check(after - before == operations as i64, || format!("{} deposits committed", after - before))?;
                    Ok(Sample { elapsed, operations, ..Sample::default() })
                }
                Case::Load => {
                    let (elapsed, state) = timed_loads(sizes.loads_per_run, || async move {
                        self.with(|connection| sqlite_load(connection, "d", 0, Account::default()))
                    })
                    .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::LoadSnapshot => {
                    let (elapsed, state) = timed_loads(sizes.loads_per_run, || async move {
                        self.with(|connection| {
                            let (version, snapshot) = connection
                                .prepare_cached("SELECT version, state FROM snapshots WHERE stream_id = ?1")?
                                .query_row(["e"], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
                            sqlite_load(connection, "e", version, serde_json::from_slice(&snapshot)?)
                        })
                    })
                    .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::Import => {
                    let (elapsed, count) = timed(async {
                        let mut count = 0;
                        for stream in 0..sizes.import_streams() {
                            let stream = format!("f{round}-{stream}");
                            let rows = (0..sizes.import_batch)
                                .map(|index| (stream.clone(), index as i64 + 1, history_event(&stream, index)));
                            count += self.with(|connection| sqlite_batch(connection, rows))?;
                        }
                        Ok(count)
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: count, ..Sample::default() })
                }
                Case::CatchUp => {
                    let (elapsed, balances) = timed(async {
                        self.with(|connection| {
                            let mut statement = connection.prepare_cached(
                                "SELECT stream_id, event_type, payload FROM events ORDER BY position",
                            )?;
                            let mut rows = statement.query([])?;
                            let mut balances = HashMap::new();
                            while let Some(row) = rows.next()? {
                                let event = decode(row.get_ref(1)?.as_str()?, row.get_ref(2)?.as_blob()?)?;
                                project(&mut balances, row.get_ref(0)?.as_str()?, &event);
                            }
                            Ok(balances)
                        })
                    })
                    .await?;
                    check_balances(&balances, sizes)?;
                    Ok(Sample { elapsed, operations: sizes.catch_up_events, ..Sample::default() })
                }
            }
        })
    }
}

/// The hand-written in-memory log: encoded events in a vector, an index per stream, one lock.
pub struct HandWritten {
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    rows: Vec<Row>,
    streams: HashMap<String, Vec<usize>>,
    snapshots: HashMap<String, (usize, Vec<u8>)>,
}

struct Row {
    stream: String,
    event_type: &'static str,
    payload: Vec<u8>,
}

impl Log {
    /// Appends `events` if the stream is at `expected` (the baseline's conditional append).
    fn append(&mut self, stream: &str, expected: usize, events: &[AccountEvent]) -> Result<()> {
        let indexes = self.streams.entry(stream.to_owned()).or_default();
        check(indexes.len() == expected, || format!("{stream} is at {}, not {expected}", indexes.len()))?;
        for event in events {
            let (event_type, payload) = encode(event)?;
            indexes.push(self.rows.len());
            self.rows.push(Row { stream: stream.to_owned(), event_type, payload });
        }
        Ok(())
    }

    fn load(&self, stream: &str, after: usize, mut state: Account) -> Result<Account> {
        for &index in self.streams.get(stream).map_or(&[][..], |indexes| &indexes[after..]) {
            let row = &self.rows[index];
            state.fold(&decode(row.event_type, &row.payload)?);
        }
        Ok(state)
    }

    fn version(&self, stream: &str) -> usize {
        self.streams.get(stream).map_or(0, Vec::len)
    }
}

impl HandWritten {
    pub fn new() -> Self {
        HandWritten { log: Mutex::new(Log::default()) }
    }

    fn history(&self, stream: &str, count: u64) -> Result<()> {
        let events: Vec<_> = (0..count).map(|index| history_event(stream, index)).collect();
        self.log.lock().unwrap().append(stream, 0, &events)
    }

    fn deposit(&self, stream: &str) -> Result<()> {
        let mut log = self.log.lock().unwrap();
        let version = log.version(stream);
        log.append(stream, version, &[deposit()])
    }

    fn contended_total(&self, sizes: &Sizes) -> Result<i64> {
        let log = self.log.lock().unwrap();
        let mut total = 0;
        for index in 0..sizes.contended_aggregates {
            total += log.load(&account(Case::Contended, index), 0, Account::default())?.balance;
        }
        Ok(total)
    }
}

impl Contender for HandWritten {
    fn name(&self) -> &str {
        "hand-written loop"
    }

    fn prepare<'a>(&'a mut self, case: Case, sizes: &'a Sizes) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.log = Mutex::new(Log::default());
            let open = |stream: String| {
                let event = Opened { account: stream.clone() }.into();
                self.log.lock().unwrap().append(&stream, 0, &[event])
            };
            match case {
                Case::Sequential => (0..sizes.aggregates).try_for_each(|index| open(account(case, index)))?,
                Case::Concurrent => (0..sizes.tasks).try_for_each(|task| {
                    (0..sizes.accounts_per_task).try_for_each(|index| open(account(case, format!("{task}-{index}"))))
                })?,
                Case::Contended => (0..sizes.contended_aggregates).try_for_each(|index| open(account(case, index)))?,
                Case::Load => self.history("d", sizes.history)?,
                Case::LoadSnapshot => {
                    self.history("e", sizes.history)?;
                    let state = serde_json::to_vec(&history_state(sizes.history))?;
                    self.log.lock().unwrap().snapshots.insert("e".to_owned(), (sizes.history as usize, state));
                }
                Case::Import => {}
                Case::CatchUp => {
                    let per_stream = sizes.catch_up_events / sizes.catch_up_streams;
                    (0..sizes.catch_up_streams)
                        .try_for_each(|stream| self.history(&account(case, stream), per_stream))?;
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
                        (0..sizes.aggregates).try_for_each(|index| self.deposit(&account(case, index)))
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.aggregates, ..Sample::default() })
                }
                Case::Concurrent | Case::Contended => {
                    let before = self.contended_total(sizes)?;
                    let (per_task, accounts) = if case == Case::Concurrent {
                        (sizes.commands_per_task, sizes.accounts_per_task)
                    } else {
                        (sizes.contended_per_task, sizes.contended_aggregates)
                    };
                    let this = &*self;
                    let (elapsed, ()) = timed(async {
                        let tasks = (0..sizes.tasks).map(|task| async move {
                            for command in 0..per_task {
                                let stream = if case == Case::Concurrent {
                                    account(case, format!("{task}-{}", command % accounts))
                                } else {
                                    account(case, (task + command) % accounts)
                                };
                                this.deposit(&stream)?;
                                tokio::task::yield_now().await;
                            }
                            Ok::<_, crate::harness::BoxError>(())
                        });
                        for result in futures_util::future::join_all(tasks).await {
                            result?;
                        }
                        Ok(())
                    })
                    .await?;
                    let operations = sizes.tasks * per_task;
                    if case == Case::Contended {
                        let after = self.contended_total(sizes)?;
                        check(after - before == operations as i64, || format!("{} deposits", after - before))?;
                    }
                    Ok(Sample { elapsed, operations, ..Sample::default() })
                }
                Case::Load | Case::LoadSnapshot => {
                    let (elapsed, state) = timed(async {
                        let log = self.log.lock().unwrap();
                        let mut state = Account::default();
                        for _ in 0..sizes.loads_per_run {
                            state = match (case, log.snapshots.get("e")) {
                                (Case::LoadSnapshot, Some((version, snapshot))) => {
                                    log.load("e", *version, serde_json::from_slice(snapshot)?)?
                                }
                                _ => log.load("d", 0, Account::default())?,
                            };
                        }
                        Ok(state)
                    })
                    .await?;
                    check(state == history_state(sizes.history), || format!("loaded {state:?}"))?;
                    Ok(Sample { elapsed, operations: sizes.loads_per_run, ..Sample::default() })
                }
                Case::Import => {
                    let (elapsed, ()) = timed(async {
                        for stream in 0..sizes.import_streams() {
                            let stream = format!("f{round}-{stream}");
                            let events: Vec<_> =
                                (0..sizes.import_batch).map(|index| history_event(&stream, index)).collect();
                            self.log.lock().unwrap().append(&stream, 0, &events)?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Sample { elapsed, operations: sizes.import_streams() * sizes.import_batch, ..Sample::default() })
                }
                Case::CatchUp => {
                    let (elapsed, balances) = timed(async {
                        let log = self.log.lock().unwrap();
                        let mut balances = HashMap::new();
                        for row in &log.rows {
                            project(&mut balances, &row.stream, &decode(row.event_type, &row.payload)?);
                        }
                        Ok(balances)
                    })
                    .await?;
                    check_balances(&balances, sizes)?;
                    Ok(Sample { elapsed, operations: sizes.catch_up_events, ..Sample::default() })
                }
            }
        })
    }
}

impl Default for HandWritten {
    fn default() -> Self {
        Self::new()
    }
}
