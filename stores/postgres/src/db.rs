//! What the store and its writer share: the pool and the names and keys of one store.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Object, Pool};
use eventsmith_runtime::recorded::Metadata;
use eventsmith_runtime::store::StoreError;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{backend, pool_error};

/// One store's database side.
pub(crate) struct Db {
    pub(crate) pool: Pool,
    /// The schema the store's tables live in.
    pub(crate) schema: String,
    /// The pool was created by the store, with `search_path` set at connection start; a pool
    /// of the application's gets it set on each checkout.
    pub(crate) own_pool: bool,
    /// The channel appends notify.
    pub(crate) channel: String,
    /// The key of the store-wide advisory lock every append takes.
    pub(crate) lock: i64,
    /// Whether the store's role may insert into the events table itself, and so append with
    /// plain statements and `COPY` (a least-privileged role appends through the functions).
    can_insert: AtomicBool,
}

impl Db {
    pub(crate) fn new(pool: Pool, schema: String, own_pool: bool) -> Self {
        let lock =
            i64::from_ne_bytes(eventsmith_runtime::id::fnv1a(format!("eventsmith:{schema}").as_bytes()).to_ne_bytes());
        Db { pool, channel: format!("eventsmith_{schema}"), schema, own_pool, lock, can_insert: AtomicBool::new(false) }
    }

    /// A pooled connection with `search_path` set to the store's schema: at connection start
    /// for a pool the store created, bound to `set_config` on each checkout for the
    /// application's.
    pub(crate) async fn client(&self, operation: &'static str) -> Result<Object, StoreError> {
        let client = self.pool.get().await.map_err(|error| pool_error(operation, error))?;
        if !self.own_pool {
            let statement = client
                .prepare_cached("SELECT set_config('search_path', $1, false)")
                .await
                .map_err(|error| backend(operation, error))?;
            client.query_one(&statement, &[&self.schema]).await.map_err(|error| backend(operation, error))?;
        }
        Ok(client)
    }

    /// A second pooled connection if one is free now, without waiting: for work beside a
    /// transaction that holds the store-wide lock (waiting for one there could wait on a
    /// caller that waits for the lock).
    pub(crate) async fn spare_client(&self, operation: &'static str) -> Option<Object> {
        let now = deadpool_postgres::Timeouts { wait: Some(std::time::Duration::ZERO), ..Default::default() };
        let client = self.pool.timeout_get(&now).await.ok()?;
        if !self.own_pool {
            let statement = client.prepare_cached("SELECT set_config('search_path', $1, false)").await.ok()?;
            client.query_one(&statement, &[&self.schema]).await.ok()?;
        }
        let _ = operation;
        Some(client)
    }

    /// The rows of one statement, prepared for the connection's life. Not for a statement
    /// whose best plan changes as the log grows: see [`fresh`].
    pub(crate) async fn rows(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client(operation).await?;
        let statement = client.prepare_cached(sql).await.map_err(|error| backend(operation, error))?;
        client.query(&statement, params).await.map_err(|error| backend(operation, error))
    }

    /// Which database this is: its name on the server, and when the server started (two
    /// servers are told apart by it, whatever address each is reached by).
    pub(crate) async fn identity(&self) -> Result<Option<String>, StoreError> {
        let rows = self
            .rows(
                "identify the database",
                "SELECT current_database() || '@' || extract(epoch FROM pg_postmaster_start_time())::text",
                &[],
            )
            .await?;
        Ok(rows.first().map(|row| format!("postgres:{}", row.get::<_, String>(0))))
    }

    pub(crate) fn can_insert(&self) -> bool {
        self.can_insert.load(Ordering::Relaxed)
    }

    /// Asks the server whether the store's role may insert into the events table.
    pub(crate) async fn probe_privileges(&self) -> Result<(), StoreError> {
        let client = self.client("open").await?;
        let can_insert: bool = client
            .query_one("SELECT has_table_privilege('events', 'INSERT')", &[])
            .await
            .map_err(|error| backend("open", error))?
            .get(0);
        self.can_insert.store(can_insert, Ordering::Relaxed);
        Ok(())
    }

    /// Where the store lives, for messages.
    pub(crate) fn location(&self) -> String {
        format!("postgres schema `{}`", self.schema)
    }
}

/// `sql` prepared for this use only, so that it is planned for the log as it is now.
///
/// A statement kept for the connection's life keeps the plan it was first given (until the
/// table's statistics change): one prepared while `events` was empty, or after an `ANALYZE`
/// of it empty, reads the whole table for `max(position)` or a stream's version ever after,
/// which made each batch of an import into a new store slower than the one before until
/// autovacuum analyzed the table. The few statements of the bulk paths (once per batch) and
/// of the log's head take one more round trip for a plan that holds, before the store-wide
/// lock is taken.
pub(crate) async fn fresh(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    client.prepare(sql).await
}

/// The stream's version (0 for none) and the server's clock, read under the lock where the
/// append holds it.
pub(crate) const CURRENT_VERSION: &str =
    "SELECT coalesce(max(stream_version), 0), clock_timestamp() FROM events WHERE stream_id = $1";

/// The metadata column of an event: nothing when it is empty.
pub(crate) fn encode_metadata(metadata: &Metadata) -> Result<Option<Vec<u8>>, StoreError> {
    if metadata.is_empty() {
        return Ok(None);
    }
    serde_json::to_vec(metadata).map(Some).map_err(|error| StoreError::backend("append", false, error))
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
