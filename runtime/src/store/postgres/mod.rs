//! [`PostgresStore`]: the production store on PostgreSQL.
//!
//! **Ordering.** A sequence number is not commit order: a transaction can take position 10,
//! stay open, and commit after another has taken and committed 11; a reader that moved its
//! checkpoint past 11 would never see 10. This store rules that out by construction: every
//! append runs `eventsmith_append`, which takes a store-wide transaction-level advisory lock
//! before it takes any position, and PostgreSQL makes a transaction visible before it
//! releases its locks. So when position p exists, every transaction that took a smaller
//! position has already committed or rolled back, and a reader of `position > checkpoint`
//! can never skip an event. The cost: appends to one store commit one after another (the
//! lock is held from the version check to the commit), so throughput is bounded by commit
//! latency times batch size rather than by connections; batching appends recovers it.
//! Appends are one round trip (one function call, in its own transaction).
//!
//! **Names.** The schema is validated as an identifier and still never spliced into SQL: it
//! is bound as a parameter to `set_config('search_path', ...)`, and `CREATE SCHEMA` and
//! `LISTEN` go through `format('%I')`. Stream ids and event types are always parameters.
//!
//! **Privileges.** The application role needs `USAGE` on the schema, `SELECT` on `events`,
//! `SELECT, INSERT, UPDATE` on `checkpoints` and `snapshots`, and `EXECUTE` on the functions;
//! it needs no `INSERT` on `events`: `eventsmith_append` is `SECURITY DEFINER`, so nobody can
//! insert around the ordering lock. Events cannot be updated, deleted or truncated (triggers).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::SystemTime;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use super::{
    AppendOutcome, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, LogEvent, LogFold, LogFolded,
    NewEvent, RawEvent, Snapshot, StoreError, StoredEvent, StreamFold,
};
use crate::recorded::Metadata;

/// The migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_append_batch.sql"),
    include_str!("migrations/0003_namespaces.sql"),
];

/// At most this many appends waiting for the writer go into one call.
const MAX_COALESCED: usize = 64;

/// Appends of at least this many events are written with a binary `COPY` on a connection of
/// their own (when the store's role may insert into the table), not through the writer's
/// function call: a few round trips more, and half the time per event of an `INSERT` from
/// arrays.
const COPY_FROM: usize = 128;

const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at, namespace";

/// Options for [`PostgresStore::connect_with`] and [`PostgresStore::from_pool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The schema the store's tables live in: a lowercase identifier.
    pub schema: String,
    /// Create or migrate the schema on connect. Turn it off for a role that only has the
    /// privileges to use the store, once an owner has migrated it.
    pub migrate: bool,
    /// Connections in the pool the store creates from a URL.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self { schema: "eventsmith".to_owned(), migrate: true, pool_size: 16 }
    }
}

/// The event store on PostgreSQL.
#[derive(Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
}

struct Shared {
    /// Appends go to the writer task, which coalesces those that wait into one call.
    appends: tokio::sync::mpsc::UnboundedSender<PendingAppend>,
    pool: Pool,
    schema: String,
    channel: String,
    lock: i64,
    head: watch::Sender<u64>,
    listener: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    url: Option<String>,
    /// The pool was created by the store, with `search_path` set at connection start; a
    /// pool of the application's gets it set on each checkout.
    own_pool: bool,
    /// Whether the store's role may insert into the events table itself, and so append with
    /// plain statements and `COPY` (a least-privileged role appends through the functions).
    can_insert: Arc<AtomicBool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.lock().ok().and_then(|mut listener| listener.take()) {
            listener.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("schema", &self.shared.schema).finish_non_exhaustive()
    }
}

fn backend(operation: &'static str, error: tokio_postgres::Error) -> StoreError {
    let retryable = error.is_closed()
        || error.code().is_none_or(|code| {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                ]
                .contains(code)
        });
    let message = match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error.to_string(),
    };
    StoreError::Backend { operation, retryable, source: Box::new(PostgresError { message, source: error }) }
}

/// A driver error whose text is the server's own message rather than "db error".
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct PostgresError {
    message: String,
    #[source]
    source: tokio_postgres::Error,
}

fn pool_error(operation: &'static str, error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => backend(operation, error),
        other => StoreError::Backend { operation, retryable: true, source: Box::new(other) },
    }
}

/// Whether `schema` is a plain lowercase identifier that needs no quoting.
fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 50
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl PostgresStore {
    /// Connects to `url` (e.g. `postgres://user@127.0.0.1/db`), with a pool of its own, and
    /// creates or migrates the store's schema (`eventsmith`).
    ///
    /// # Errors
    /// An invalid URL or schema, a server that cannot be reached, a schema written by a newer
    /// release.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|error| StoreError::Backend {
            operation: "parse the connection URL",
            retryable: false,
            source: Box::new(error),
        })?;
        if valid_schema(&options.schema) {
            // The pool's connections start with the store's schema as their search_path: a
            // startup parameter of the protocol, not SQL, and no round trip per checkout.
            // Every statement of the store is an index lookup or an index range; with
            // sequential scans off, a plan cached while the table was small (a generic plan
            // made on the first executions) stays an index plan as the table grows, where
            // it would otherwise scan the whole table on every append (measured: appends
            // slowing down linearly with the table).
            let existing = config.get_options().map(str::to_owned).unwrap_or_default();
            config.options(format!("{existing} -c search_path={} -c enable_seqscan=off", options.schema).trim());
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(options.pool_size.max(1)).build().map_err(|error| {
            StoreError::Backend { operation: "build the pool", retryable: false, source: Box::new(error) }
        })?;
        Self::open(pool, options, Some(url.to_owned()), true).await
    }

    /// A store on the application's own pool.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn from_pool(pool: Pool, options: PostgresOptions) -> Result<Self, StoreError> {
        Self::open(pool, options, None, false).await
    }

    async fn open(
        pool: Pool,
        options: PostgresOptions,
        url: Option<String>,
        own_pool: bool,
    ) -> Result<Self, StoreError> {
        if !valid_schema(&options.schema) {
            return Err(StoreError::Backend {
                operation: "open",
                retryable: false,
                source: format!(
                    "invalid schema name `{}`: use lowercase letters, digits and `_`, starting with a letter or `_`, at most 50 characters",
                    options.schema
                )
                .into(),
            });
        }
        let lock =
            i64::from_ne_bytes(crate::event::fnv1a(format!("eventsmith:{}", options.schema).as_bytes()).to_ne_bytes());
        let (appends, pending) = tokio::sync::mpsc::unbounded_channel();
        let can_insert = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            pool: pool.clone(),
            schema: options.schema.clone(),
            channel: format!("eventsmith_{}", options.schema),
            lock,
            own_pool,
            can_insert: Arc::clone(&can_insert),
        };
        tokio::spawn(writer.run(pending));
        let shared = Shared {
            appends,
            pool,
            channel: format!("eventsmith_{}", options.schema),
            schema: options.schema,
            lock,
            head: watch::Sender::new(0),
            listener: std::sync::Mutex::new(None),
            url,
            own_pool,
            can_insert,
        };
        let store = Self { shared: Arc::new(shared) };
        if options.migrate {
            store.migrate().await?;
        } else {
            store.check_version().await?;
        }
        let client = store.client("open").await?;
        let can_insert: bool = client
            .query_one("SELECT has_table_privilege('events', 'INSERT')", &[])
            .await
            .map_err(|error| backend("open", error))?
            .get(0);
        store.shared.can_insert.store(can_insert, AtomicOrdering::Relaxed);
        Ok(store)
    }

    /// A large append: under the store-wide lock, the version checked, the events written
    /// with one binary `COPY`, their positions read back and the notification sent, in one
    /// transaction (the same checks and order as the append function).
    async fn append_copy(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        let client = self.client("append").await?;
        let result = self.copy_in_transaction(&client, stream_id, expected, events).await;
        let refusal = match result {
            Ok(outcome) => return Ok(outcome),
            Err(refusal) => refusal,
        };
        // The transaction failed: end it before the connection goes back to the pool.
        client.batch_execute("ROLLBACK").await.map_err(|error| backend("append", error))?;
        match refusal {
            CopyRefusal::Store(error) => Err(error),
            CopyRefusal::Conflict(actual) | CopyRefusal::Duplicate(actual) => {
                // An exact retry of an earlier append is acknowledged, as by the function.
                let ids: Vec<Uuid> = events.iter().map(|event| event.id).collect();
                let earlier =
                    client.query_opt("SELECT * FROM eventsmith_earlier_append($1, $2)", &[&stream_id, &ids]).await;
                match earlier {
                    Ok(Some(row)) => Ok(outcome_of(&row, 0)),
                    Ok(None) if matches!(refusal, CopyRefusal::Conflict(_)) => {
                        Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual })
                    }
                    Ok(None) => Err(refused(2, None, stream_id, expected, events)),
                    Err(error) => {
                        let detail = error.as_db_error().and_then(|db| db.detail().map(str::to_owned));
                        match error.code().map(SqlState::code) {
                            Some("ES422") => Err(refused(2, detail, stream_id, expected, events)),
                            _ => Err(backend("append", error)),
                        }
                    }
                }
            }
        }
    }

    async fn copy_in_transaction(
        &self,
        client: &deadpool_postgres::Object,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, CopyRefusal> {
        let failed = |error: tokio_postgres::Error| CopyRefusal::Store(backend("append", error));
        let lock = client.prepare_cached("SELECT pg_advisory_xact_lock($1)").await.map_err(failed)?;
        let head = client
            .prepare_cached(
                "SELECT coalesce(max(stream_version), 0), clock_timestamp() FROM events WHERE stream_id = $1",
            )
            .await
            .map_err(failed)?;
        // Pipelined, one round trip; the version is read by a statement of its own, so after
        // the lock is held.
        let (lock_params, head_params): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
            ([&self.shared.lock], [&stream_id]);
        let (_, _, row) = tokio::try_join!(
            client.batch_execute("BEGIN"),
            client.execute(&lock, &lock_params),
            client.query_one(&head, &head_params),
        )
        .map_err(failed)?;
        let actual = to_u64(row.get(0));
        let now: SystemTime = row.get(1);
        let allowed = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(version) => actual == version,
        };
        if !allowed {
            return Err(CopyRefusal::Conflict(actual));
        }
        let sink = client
            .copy_in(
                "COPY events (event_id, stream_id, stream_version, namespace, event_type, event_version, payload, metadata, \
                 recorded_at) FROM STDIN BINARY",
            )
            .await
            .map_err(failed)?;
        let types = [
            Type::UUID,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::BYTEA,
            Type::BYTEA,
            Type::TIMESTAMPTZ,
        ];
        let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
        futures_util::pin_mut!(writer);
        for (offset, event) in events.iter().enumerate() {
            let version = to_i64(actual + offset as u64 + 1);
            let event_version = i32::try_from(event.event_version).unwrap_or(i32::MAX);
            let metadata = if event.metadata.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&event.metadata).map_err(|error| {
                    CopyRefusal::Store(StoreError::Backend {
                        operation: "append",
                        retryable: false,
                        source: Box::new(error),
                    })
                })?)
            };
            let row: [&(dyn ToSql + Sync); 9] = [
                &event.id,
                &stream_id,
                &version,
                &event.namespace.as_deref(),
                &event.event_type.as_ref(),
                &event_version,
                &event.payload,
                &metadata,
                &now,
            ];
            writer.as_mut().write(&row).await.map_err(|error| copy_failure(error, actual))?;
        }
        writer.finish().await.map_err(|error| copy_failure(error, actual))?;
        let positions = client
            .prepare_cached(
                "SELECT array_agg(position ORDER BY stream_version), pg_notify($3, max(position)::text) \
                 FROM events WHERE stream_id = $1 AND stream_version > $2",
            )
            .await
            .map_err(failed)?;
        let after = to_i64(actual);
        let params: [&(dyn ToSql + Sync); 3] = [&stream_id, &after, &self.shared.channel];
        let (row, ()) =
            tokio::try_join!(client.query_one(&positions, &params), client.batch_execute("COMMIT")).map_err(failed)?;
        let positions: Vec<i64> = row.get(0);
        Ok(AppendOutcome {
            first_version: actual + 1,
            positions: positions.into_iter().map(to_u64).collect(),
            recorded_at: now,
            already_stored: false,
        })
    }

    /// A pooled connection with `search_path` set to the store's schema.
    async fn client(&self, operation: &'static str) -> Result<deadpool_postgres::Object, StoreError> {
        checkout(&self.shared.pool, self.shared.own_pool, &self.shared.schema, operation).await
    }

    async fn schema_version(client: &deadpool_postgres::Object) -> Result<Option<i64>, StoreError> {
        let exists: bool = client
            .query_one("SELECT to_regclass('eventsmith_schema') IS NOT NULL", &[])
            .await
            .map_err(|error| backend("open", error))?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let version: Option<i32> = client
            .query_one("SELECT max(version) FROM eventsmith_schema", &[])
            .await
            .map_err(|error| backend("open", error))?
            .get(0);
        Ok(Some(i64::from(version.unwrap_or(0))))
    }

    async fn check_version(&self) -> Result<(), StoreError> {
        let client = self.client("open").await?;
        match Self::schema_version(&client).await? {
            Some(version) if version == MIGRATIONS.len() as i64 => Ok(()),
            Some(version) if version > MIGRATIONS.len() as i64 => Err(self.too_new(version)),
            found => Err(StoreError::NotAStore {
                location: self.location(),
                reason: format!(
                    "schema `{}` is at eventsmith version {}, this release needs {}; open it once with `migrate: true` as its owner",
                    self.shared.schema,
                    found.unwrap_or(0),
                    MIGRATIONS.len()
                ),
            }),
        }
    }

    fn too_new(&self, found: i64) -> StoreError {
        StoreError::SchemaTooNew { location: self.location(), found, supported: MIGRATIONS.len() as i64 }
    }

    fn location(&self) -> String {
        format!("postgres schema `{}`", self.shared.schema)
    }

    /// Applies the migrations the schema does not have yet, each in its own transaction,
    /// serialized across processes by an advisory lock.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.shared.pool.get().await.map_err(|error| pool_error("migrate", error))?;
        let transaction = client.transaction().await.map_err(|error| backend("migrate", error))?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&self.shared.lock])
            .await
            .map_err(|error| backend("migrate", error))?;
        transaction
            .batch_execute(
                "CREATE FUNCTION pg_temp.eventsmith_create_schema(name text) RETURNS void LANGUAGE plpgsql AS $$
                 BEGIN EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', name); END $$;",
            )
            .await
            .map_err(|error| backend("migrate", error))?;
        transaction
            .execute("SELECT pg_temp.eventsmith_create_schema($1)", &[&self.shared.schema])
            .await
            .map_err(|error| backend("migrate", error))?;
        transaction
            .execute("SELECT set_config('search_path', $1, true)", &[&self.shared.schema])
            .await
            .map_err(|error| backend("migrate", error))?;
        let exists: bool = transaction
            .query_one("SELECT to_regclass('eventsmith_schema') IS NOT NULL", &[])
            .await
            .map_err(|error| backend("migrate", error))?
            .get(0);
        let applied = if exists {
            let version: Option<i32> = transaction
                .query_one("SELECT max(version) FROM eventsmith_schema", &[])
                .await
                .map_err(|error| backend("migrate", error))?
                .get(0);
            i64::from(version.unwrap_or(0))
        } else {
            let foreign: i64 = transaction
                .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = $1", &[&self.shared.schema])
                .await
                .map_err(|error| backend("migrate", error))?
                .get(0);
            if foreign > 0 {
                return Err(StoreError::NotAStore {
                    location: self.location(),
                    reason: format!("the schema has {foreign} other tables and no eventsmith schema"),
                });
            }
            0
        };
        if applied > MIGRATIONS.len() as i64 {
            return Err(self.too_new(applied));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(applied).unwrap_or(0)) {
            transaction.batch_execute(migration).await.map_err(|error| backend("migrate", error))?;
            let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
            transaction
                .execute("DELETE FROM eventsmith_schema", &[])
                .await
                .map_err(|error| backend("migrate", error))?;
            transaction
                .execute("INSERT INTO eventsmith_schema (version) VALUES ($1)", &[&version])
                .await
                .map_err(|error| backend("migrate", error))?;
        }
        transaction.commit().await.map_err(|error| backend("migrate", error))
    }

    /// Starts the task that listens for appends (LISTEN/NOTIFY) and moves the head receiver.
    fn start_listener(&self) {
        let Some(url) = self.shared.url.clone() else { return };
        let Ok(mut guard) = self.shared.listener.lock() else { return };
        if guard.is_some() {
            return;
        }
        let (head, channel, schema) =
            (self.shared.head.clone(), self.shared.channel.clone(), self.shared.schema.clone());
        *guard = Some(tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&url, &schema, &channel, &head).await {
                    tracing::debug!(%error, "notification listener stopped; reconnecting");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }));
    }

    async fn rows(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client(operation).await?;
        let statement = client.prepare_cached(sql).await.map_err(|error| backend(operation, error))?;
        client.query(&statement, params).await.map_err(|error| backend(operation, error))
    }
}

/// A pooled connection with `search_path` set to the store's schema: at connection start for
/// a pool the store created, bound to `set_config` on each checkout for the application's.
async fn checkout(
    pool: &Pool,
    own_pool: bool,
    schema: &str,
    operation: &'static str,
) -> Result<deadpool_postgres::Object, StoreError> {
    let client = pool.get().await.map_err(|error| pool_error(operation, error))?;
    if !own_pool {
        let statement = client
            .prepare_cached("SELECT set_config('search_path', $1, false)")
            .await
            .map_err(|error| backend(operation, error))?;
        client.query_one(&statement, &[&schema]).await.map_err(|error| backend(operation, error))?;
    }
    Ok(client)
}

/// Listens on `channel` and publishes each notified position to `head` until the
/// connection fails.
async fn listen(
    url: &str,
    schema: &str,
    channel: &str,
    head: &watch::Sender<u64>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(notification)) => {
                    if sender.send(notification.payload().parse::<u64>().unwrap_or(0)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    client.query_one("SELECT set_config('search_path', $1, false)", &[&schema]).await?;
    client.execute("SELECT eventsmith_listen($1)", &[&channel]).await?;
    while let Some(position) = notifications.recv().await {
        super::advance_head(head, position);
    }
    driver.abort();
    Ok(())
}

fn stored_event(row: &Row) -> Result<StoredEvent, StoreError> {
    with_logged(row, |event| event.into_stored())
}

/// Calls `f` with the row (of [`COLUMNS`]) borrowed as a [`LogEvent`].
fn with_logged<T>(row: &Row, f: impl FnOnce(LogEvent<'_>) -> T) -> Result<T, StoreError> {
    let position = to_u64(row.get(0));
    let metadata = match row.get::<_, Option<&[u8]>>(7).map(serde_json::from_slice::<Metadata>) {
        None => Metadata::default(),
        Some(Ok(metadata)) => metadata,
        Some(Err(error)) => {
            return Err(StoreError::CorruptRow { position, reason: format!("the metadata does not decode: {error}") });
        }
    };
    Ok(f(LogEvent {
        id: row.get(1),
        stream_id: row.get(2),
        stream_version: to_u64(row.get(3)),
        position,
        event_type: row.get(4),
        event_version: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
        payload: row.get(6),
        metadata: std::borrow::Cow::Owned(metadata),
        recorded_at: row.get::<_, SystemTime>(8),
        namespace: row.get(9),
    }))
}

impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyAppend { stream_id: stream_id.to_owned() });
        }
        if events.len() >= COPY_FROM && self.shared.can_insert.load(AtomicOrdering::Relaxed) {
            let outcome = self.append_copy(stream_id, expected, &events).await?;
            if let Some(&last) = outcome.positions.last() {
                super::advance_head(&self.shared.head, last);
            }
            return Ok(outcome);
        }
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let pending = PendingAppend { stream_id: stream_id.to_owned(), expected, events, reply };
        let stopped = || StoreError::Backend {
            operation: "append",
            retryable: true,
            source: "the store's writer stopped".into(),
        };
        self.shared.appends.send(pending).map_err(|_| stopped())?;
        let outcome = outcome.await.map_err(|_| stopped())??;
        if let Some(&last) = outcome.positions.last() {
            super::advance_head(&self.shared.head, last);
        }
        Ok(outcome)
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
        );
        let rows =
            self.rows("read a stream", &sql, &[&stream_id, &to_i64(from_version), &to_i64(max_count as u64)]).await?;
        rows.iter().map(stored_event).collect()
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // Always along the primary key, filtering types here: a type filter in SQL lets the
        // planner pick the type index and sort the rest of the log on every page (measured:
        // quadratic catch-up), while this costs at most the events of other types.
        let sql = format!("SELECT {COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2");
        let limit = to_i64(max_count as u64);
        let mut events = Vec::new();
        let mut from = from_position;
        loop {
            let rows = self.rows("read the log", &sql, &[&to_i64(from), &limit]).await?;
            let full = rows.len() == max_count;
            for row in &rows {
                let event = stored_event(row)?;
                from = event.position + 1;
                if types.is_empty() || types.contains(&event.event_type.as_str()) {
                    events.push(event);
                    if events.len() == max_count {
                        return Ok(events);
                    }
                }
            }
            if !full || max_count == 0 {
                return Ok(events);
            }
        }
    }

    async fn fold_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> Result<Box<dyn StreamFold>, StoreError> {
        let client = self.client("read a stream").await?;
        let statement = client
            .prepare_cached(
                "SELECT stream_version, position, event_type, event_version, payload FROM events
                 WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version",
            )
            .await
            .map_err(|error| backend("read a stream", error))?;
        let from = to_i64(from_version);
        let params: [&(dyn ToSql + Sync); 2] = [&stream_id, &from];
        let rows = client.query_raw(&statement, params).await.map_err(|error| backend("read a stream", error))?;
        futures_util::pin_mut!(rows);
        while let Some(row) = rows.try_next().await.map_err(|error| backend("read a stream", error))? {
            let raw = RawEvent {
                stream_id,
                stream_version: to_u64(row.get(0)),
                position: to_u64(row.get(1)),
                event_type: row.get(2),
                event_version: u32::try_from(row.get::<_, i32>(3)).unwrap_or(0),
                payload: row.get(4),
            };
            if !fold.fold(raw) {
                break;
            }
        }
        Ok(fold)
    }

    async fn fold_log(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        mut fold: Box<dyn LogFold>,
    ) -> Result<FoldedLog, StoreError> {
        // Along the primary key, filtering types here (as `read_all`), with the rows of each
        // page streamed into the fold as they arrive.
        let client = self.client("read the log").await?;
        let statement = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"))
            .await
            .map_err(|error| backend("read the log", error))?;
        let limit = to_i64(max_count as u64);
        let mut folded = LogFolded { folded: 0, stopped: false };
        let mut from = from_position;
        loop {
            let params: [&(dyn ToSql + Sync); 2] = [&to_i64(from), &limit];
            let rows = client.query_raw(&statement, params).await.map_err(|error| backend("read the log", error))?;
            futures_util::pin_mut!(rows);
            let mut scanned = 0;
            while let Some(row) = rows.try_next().await.map_err(|error| backend("read the log", error))? {
                scanned += 1;
                let position = to_u64(row.get(0));
                from = position + 1;
                let event_type: &str = row.get(4);
                if !types.is_empty() && !types.contains(&event_type) {
                    continue;
                }
                folded.folded += 1;
                if !with_logged(&row, |event| fold.fold(event))? {
                    folded.stopped = true;
                    return Ok((fold, folded));
                }
                if folded.folded == max_count {
                    return Ok((fold, folded));
                }
            }
            if scanned < max_count || max_count == 0 {
                return Ok((fold, folded));
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checkpoints: true, notifications: true, snapshots: true, unique_event_ids: true }
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let rows =
            self.rows("load a checkpoint", "SELECT position, state FROM checkpoints WHERE name = $1", &[&name]).await?;
        Ok(rows.first().map(|row| Checkpoint { position: to_u64(row.get(0)), state: row.get(1) }))
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        // Position and state are one row, written by one statement: both or neither.
        self.rows(
            "save a checkpoint",
            "INSERT INTO checkpoints (name, position, state) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state",
            &[&name, &to_i64(checkpoint.position), &checkpoint.state],
        )
        .await
        .map(drop)
    }

    async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let rows = self
            .rows(
                "load a snapshot",
                "SELECT version, fingerprint, state FROM snapshots WHERE stream_id = $1",
                &[&stream_id],
            )
            .await?;
        Ok(rows.first().map(|row| Snapshot { version: to_u64(row.get(0)), fingerprint: row.get(1), state: row.get(2) }))
    }

    async fn save_snapshot(&self, stream_id: &str, snapshot: Snapshot) -> Result<(), StoreError> {
        self.rows(
            "save a snapshot",
            "INSERT INTO snapshots (stream_id, version, fingerprint, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, fingerprint = excluded.fingerprint,
                 state = excluded.state
             WHERE excluded.version >= snapshots.version",
            &[&stream_id, &to_i64(snapshot.version), &snapshot.fingerprint, &snapshot.state],
        )
        .await
        .map(drop)
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        self.start_listener();
        Some(self.shared.head.subscribe())
    }
}

/// An append waiting for the writer.
struct PendingAppend {
    stream_id: String,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// The task every append of a store goes through. One call is in flight at a time (the
/// store-wide lock would serialize them anyway); the appends that arrive meanwhile go into the
/// next call together, one round trip and one commit for all: PostgreSQL's group commit, done
/// by the client.
struct Writer {
    pool: Pool,
    schema: String,
    channel: String,
    lock: i64,
    own_pool: bool,
    can_insert: Arc<AtomicBool>,
}

/// Several appends, each at an expected version, as one plain statement and one commit: the
/// same lock and checks as [`APPEND_AT_VERSION`], row by row. An append whose expected
/// version does not hold inserts nothing and is told apart on its own afterwards; a taken
/// version or id fails the statement, and the appends are then made one by one.
const APPEND_MANY_AT_VERSIONS: &str = "
WITH locked AS (SELECT pg_advisory_xact_lock($9) AS locked, clock_timestamp() AS at),
appended AS (
    INSERT INTO events (event_id, stream_id, stream_version, namespace, event_type, event_version, payload, metadata,
                        recorded_at)
    SELECT i.id, i.s, i.a + i.o, i.ns, i.t, i.v, i.p, i.m, locked.at
      FROM locked, unnest($1::text[], $2::bigint[], $3::bigint[], $4::uuid[], $5::text[], $6::integer[], $7::bytea[],
                          $8::bytea[], $11::text[]) WITH ORDINALITY AS i(s, a, o, id, t, v, p, m, ns, n)
     WHERE i.a = 0 OR EXISTS (SELECT 1 FROM events e WHERE e.stream_id = i.s AND e.stream_version = i.a OFFSET 0)
     ORDER BY i.n
    RETURNING position, event_id, stream_version, recorded_at),
notified AS (SELECT pg_notify($10, max(position)::text) FROM appended HAVING count(*) > 0)
SELECT event_id, stream_version, position, recorded_at, (SELECT count(*) FROM notified) FROM appended";

/// One append at an expected version as one plain statement: the store-wide lock taken in
/// its first step, so that positions are drawn and commits made in lock order, exactly as in
/// the append function; the expected version checked by the existence of event `$2` and by
/// the unique (stream, version) key, which refuses a version already taken; the positions
/// returned and the notification sent by the same statement.
const APPEND_AT_VERSION: &str = "
WITH locked AS (SELECT pg_advisory_xact_lock($8) AS locked, clock_timestamp() AS at),
appended AS (
    INSERT INTO events (event_id, stream_id, stream_version, namespace, event_type, event_version, payload, metadata,
                        recorded_at)
    SELECT i.id, $1, $2 + i.n, i.ns, i.t, i.v, i.p, i.m, locked.at
      FROM locked, unnest($3::uuid[], $4::text[], $5::integer[], $6::bytea[], $7::bytea[], $10::text[])
           WITH ORDINALITY AS i(id, t, v, p, m, ns, n)
     WHERE $2 = 0 OR EXISTS (SELECT 1 FROM events e WHERE e.stream_id = $1 AND e.stream_version = $2 OFFSET 0)
     ORDER BY i.n
    RETURNING position, stream_version, recorded_at)
SELECT array_agg(position ORDER BY stream_version), min(recorded_at),
       CASE WHEN count(*) > 0 THEN pg_notify($9, max(position)::text) END
  FROM appended";

/// The arrays an append or a batch of appends is passed as.
#[derive(Default)]
struct Columns<'a> {
    ids: Vec<Uuid>,
    namespaces: Vec<Option<&'a str>>,
    types: Vec<&'a str>,
    versions: Vec<i32>,
    payloads: Vec<&'a [u8]>,
    metadata: Vec<Option<Vec<u8>>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, events: &'a [NewEvent]) -> Result<(), StoreError> {
        for event in events {
            self.ids.push(event.id);
            self.namespaces.push(event.namespace.as_deref());
            self.types.push(event.event_type.as_ref());
            self.versions.push(i32::try_from(event.event_version).unwrap_or(i32::MAX));
            self.payloads.push(event.payload.as_slice());
            let metadata = if event.metadata.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&event.metadata).map_err(|error| StoreError::Backend {
                    operation: "append",
                    retryable: false,
                    source: Box::new(error),
                })?)
            };
            self.metadata.push(metadata);
        }
        Ok(())
    }
}

/// The version an append at an expected version follows, if it is one.
fn at_version(expected: ExpectedVersion) -> Option<u64> {
    match expected {
        ExpectedVersion::Exact(version) => Some(version),
        ExpectedVersion::NoStream => Some(0),
        ExpectedVersion::Any | ExpectedVersion::StreamExists => None,
    }
}

fn expected_columns(expected: ExpectedVersion) -> (i16, i64) {
    match expected {
        ExpectedVersion::Any => (0, 0),
        ExpectedVersion::NoStream => (1, 0),
        ExpectedVersion::StreamExists => (2, 0),
        ExpectedVersion::Exact(version) => (3, to_i64(version)),
    }
}

impl Writer {
    async fn run(self, mut pending: tokio::sync::mpsc::UnboundedReceiver<PendingAppend>) {
        while let Some(first) = pending.recv().await {
            // One yield lets appends that are about to be sent (callers just woken by the
            // previous batch's replies) join this batch instead of waiting for the next.
            tokio::task::yield_now().await;
            let mut batch = vec![first];
            while batch.len() < MAX_COALESCED {
                match pending.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            if batch.len() == 1 {
                let append = batch.remove(0);
                let result = self.append_one(&append.stream_id, append.expected, &append.events).await;
                let _ = append.reply.send(result);
            } else if self.can_insert.load(AtomicOrdering::Relaxed)
                && batch.iter().all(|append| at_version(append.expected).is_some())
            {
                self.append_many_at_versions(batch).await;
            } else {
                self.append_many(batch).await;
            }
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        checkout(&self.pool, self.own_pool, &self.schema, "append").await
    }

    async fn append_one(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        if let Some(version) = at_version(expected).filter(|_| self.can_insert.load(AtomicOrdering::Relaxed)) {
            return self.append_at_version(stream_id, expected, version, events).await;
        }
        let (kind, version) = expected_columns(expected);
        let mut columns = Columns::default();
        columns.push(events)?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT * FROM eventsmith_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .await
            .map_err(|error| backend("append", error))?;
        let row = client
            .query_one(
                &statement,
                &[
                    &stream_id,
                    &kind,
                    &version,
                    &columns.ids,
                    &columns.namespaces,
                    &columns.types,
                    &columns.versions,
                    &columns.payloads,
                    &columns.metadata,
                    &self.channel,
                    &self.lock,
                ],
            )
            .await;
        match row {
            Ok(row) => Ok(outcome_of(&row, 0)),
            Err(error) => {
                let detail = error.as_db_error().and_then(|db| db.detail().map(str::to_owned));
                Err(match error.code().map(SqlState::code) {
                    Some("ES409") => refused(1, detail, stream_id, expected, events),
                    Some("ES422" | "23505") => refused(2, detail, stream_id, expected, events),
                    _ => backend("append", error),
                })
            }
        }
    }

    /// [`APPEND_AT_VERSION`]; a refusal is told apart afterwards (an exact retry of an
    /// earlier append, a duplicate id, or a version conflict), as the function does.
    async fn append_at_version(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        version: u64,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        let mut columns = Columns::default();
        columns.push(events)?;
        let client = self.client().await?;
        let statement = client.prepare_cached(APPEND_AT_VERSION).await.map_err(|error| backend("append", error))?;
        let after = to_i64(version);
        let params: [&(dyn ToSql + Sync); 10] = [
            &stream_id,
            &after,
            &columns.ids,
            &columns.types,
            &columns.versions,
            &columns.payloads,
            &columns.metadata,
            &self.lock,
            &self.channel,
            &columns.namespaces,
        ];
        // A second try only when the stream reached the expected version while the statement
        // waited for the lock (its snapshot predates the wait).
        let mut tries = 0;
        let refused_by = loop {
            tries += 1;
            let refused_by = match client.query_one(&statement, &params).await {
                Ok(row) => match row.get::<_, Option<Vec<i64>>>(0) {
                    Some(positions) => {
                        return Ok(AppendOutcome {
                            first_version: version + 1,
                            positions: positions.into_iter().map(to_u64).collect(),
                            recorded_at: row.get(1),
                            already_stored: false,
                        });
                    }
                    None => None,
                },
                Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Some(error),
                Err(error) => return Err(backend("append", error)),
            };
            if refused_by.is_some() || tries == 2 || version == 0 {
                break refused_by;
            }
            let actual: i64 = client
                .query_one("SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", &[&stream_id])
                .await
                .map_err(|error| backend("append", error))?
                .get(0);
            if actual != after {
                break None;
            }
        };
        let earlier =
            client.query_opt("SELECT * FROM eventsmith_earlier_append($1, $2)", &[&stream_id, &columns.ids]).await;
        match earlier {
            Ok(Some(row)) => Ok(outcome_of(&row, 0)),
            Ok(None) => {
                let actual: i64 = client
                    .query_one(
                        "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
                        &[&stream_id],
                    )
                    .await
                    .map_err(|error| backend("append", error))?
                    .get(0);
                if actual == after
                    && let Some(error) = refused_by
                {
                    // Not a version taken and no id stored: some other unique key.
                    return Err(backend("append", error));
                }
                Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual: to_u64(actual) })
            }
            Err(error) => {
                let detail = error.as_db_error().and_then(|db| db.detail().map(str::to_owned));
                match error.code().map(SqlState::code) {
                    Some("ES422") => Err(refused(2, detail, stream_id, expected, events)),
                    _ => Err(backend("append", error)),
                }
            }
        }
    }

    /// Appends that are all at expected versions, as one statement ([`APPEND_MANY_AT_VERSIONS`]).
    async fn append_many_at_versions(&self, batch: Vec<PendingAppend>) {
        // The first append of each stream goes into the statement; the others (which mostly
        // conflict with it) and any whose version did not hold go through the append function
        // afterwards, which tells conflicts, retries and duplicates apart in one call.
        let mut streams = std::collections::HashSet::new();
        let (lead, mut rest): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|append| streams.insert(append.stream_id.clone()));
        match self.call_many_at_versions(&lead).await {
            Ok(rows) => {
                // Each append's events are found by their ids: the rows of another append to
                // the same stream can never pass for them.
                let inserted: std::collections::HashMap<Uuid, (u64, u64, SystemTime)> =
                    rows.iter().map(|row| (row.get(0), (to_u64(row.get(1)), to_u64(row.get(2)), row.get(3)))).collect();
                for append in lead {
                    let after = at_version(append.expected).unwrap_or(0);
                    let found: Vec<(u64, u64, SystemTime)> =
                        append.events.iter().filter_map(|event| inserted.get(&event.id).copied()).collect();
                    if found.len() == append.events.len() && found[0].0 == after + 1 {
                        let _ = append.reply.send(Ok(AppendOutcome {
                            first_version: after + 1,
                            recorded_at: found[0].2,
                            positions: found.into_iter().map(|(_, position, _)| position).collect(),
                            already_stored: false,
                        }));
                    } else {
                        rest.push(append);
                    }
                }
            }
            // A version or an id taken: the function tells which, and commits the others.
            Err(None) => rest.extend(lead),
            Err(Some(error)) => {
                let retryable = matches!(error, StoreError::Backend { retryable: true, .. });
                let message = error.to_string();
                for append in lead {
                    let source = message.clone().into();
                    let _ = append.reply.send(Err(StoreError::Backend { operation: "append", retryable, source }));
                }
            }
        }
        if !rest.is_empty() {
            self.append_many(rest).await;
        }
    }

    /// The statement's rows; `Err(None)` when a version or an id was taken.
    async fn call_many_at_versions(&self, batch: &[PendingAppend]) -> Result<Vec<Row>, Option<StoreError>> {
        let mut columns = Columns::default();
        let (mut streams, mut afters, mut offsets) = (Vec::new(), Vec::new(), Vec::new());
        for append in batch {
            let after = to_i64(at_version(append.expected).unwrap_or(0));
            for offset in 1..=append.events.len() {
                streams.push(append.stream_id.as_str());
                afters.push(after);
                offsets.push(offset as i64);
            }
            columns.push(&append.events).map_err(Some)?;
        }
        let client = self.client().await.map_err(Some)?;
        let statement =
            client.prepare_cached(APPEND_MANY_AT_VERSIONS).await.map_err(|error| Some(backend("append", error)))?;
        let params: [&(dyn ToSql + Sync); 11] = [
            &streams,
            &afters,
            &offsets,
            &columns.ids,
            &columns.types,
            &columns.versions,
            &columns.payloads,
            &columns.metadata,
            &self.lock,
            &self.channel,
            &columns.namespaces,
        ];
        match client.query(&statement, &params).await {
            Ok(rows) => Ok(rows),
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(None),
            Err(error) => Err(Some(backend("append", error))),
        }
    }

    async fn append_many(&self, batch: Vec<PendingAppend>) {
        let result = self.call_batch(&batch).await;
        match result {
            Ok(rows) if rows.len() == batch.len() => {
                for (append, row) in batch.into_iter().zip(rows) {
                    let status: i16 = row.get(0);
                    let outcome = if status == 0 {
                        Ok(outcome_of(&row, 2))
                    } else {
                        Err(refused(status, row.get(1), &append.stream_id, append.expected, &append.events))
                    };
                    let _ = append.reply.send(outcome);
                }
            }
            Ok(rows) => {
                let message = format!("the batch append answered {} rows for {} appends", rows.len(), batch.len());
                for append in batch {
                    let source = message.clone().into();
                    let _ =
                        append.reply.send(Err(StoreError::Backend { operation: "append", retryable: false, source }));
                }
            }
            Err(error) => {
                // Nothing of the batch was committed: one transaction. Every caller gets the
                // error, retryable as the original was.
                let retryable = matches!(error, StoreError::Backend { retryable: true, .. });
                let message = error.to_string();
                for append in batch {
                    let source = message.clone().into();
                    let _ = append.reply.send(Err(StoreError::Backend { operation: "append", retryable, source }));
                }
            }
        }
    }

    async fn call_batch(&self, batch: &[PendingAppend]) -> Result<Vec<Row>, StoreError> {
        let mut columns = Columns::default();
        let (mut streams, mut kinds, mut versions, mut counts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for append in batch {
            let (kind, version) = expected_columns(append.expected);
            streams.push(append.stream_id.as_str());
            kinds.push(kind);
            versions.push(version);
            counts.push(i32::try_from(append.events.len()).unwrap_or(i32::MAX));
            columns.push(&append.events)?;
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT * FROM eventsmith_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .await
            .map_err(|error| backend("append", error))?;
        client
            .query(
                &statement,
                &[
                    &streams,
                    &kinds,
                    &versions,
                    &counts,
                    &columns.ids,
                    &columns.namespaces,
                    &columns.types,
                    &columns.versions,
                    &columns.payloads,
                    &columns.metadata,
                    &self.channel,
                    &self.lock,
                ],
            )
            .await
            .map_err(|error| backend("append", error))
    }
}

/// The outcome in a row whose `first_version, positions, recorded_at, already_stored` start at
/// column `offset`.
fn outcome_of(row: &Row, offset: usize) -> AppendOutcome {
    let positions: Vec<i64> = row.get(offset + 1);
    AppendOutcome {
        first_version: to_u64(row.get(offset)),
        positions: positions.into_iter().map(to_u64).collect(),
        recorded_at: row.get(offset + 2),
        already_stored: row.get(offset + 3),
    }
}

/// Why a `COPY` append did not commit: a version conflict (with the actual version), an event
/// id already stored (an exact retry, or a duplicate), or a failure.
enum CopyRefusal {
    Conflict(u64),
    Duplicate(u64),
    Store(StoreError),
}

fn copy_failure(error: tokio_postgres::Error, actual: u64) -> CopyRefusal {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        CopyRefusal::Duplicate(actual)
    } else {
        CopyRefusal::Store(backend("append", error))
    }
}

/// A refused append: 1 a version conflict (detail: the actual version), 2 a duplicate event
/// id (detail: the id).
fn refused(
    status: i16,
    detail: Option<String>,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> StoreError {
    if status == 1 {
        StoreError::Conflict {
            stream_id: stream_id.to_owned(),
            expected,
            actual: detail.and_then(|actual| actual.parse().ok()).unwrap_or(0),
        }
    } else {
        StoreError::DuplicateEvent {
            stream_id: stream_id.to_owned(),
            event_id: detail.and_then(|id| id.parse().ok()).unwrap_or(events[0].id),
        }
    }
}
