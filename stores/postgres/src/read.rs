//! Reading: streams, the global log (along its primary key, filtering types here), folds over
//! streamed rows, the head, checkpoints and snapshots.

use std::borrow::Cow;
use std::time::SystemTime;

use eventsmith_runtime::recorded::Metadata;
use eventsmith_runtime::store::{
    Checkpoint, FoldedLog, LogEvent, LogFold, LogFolded, RawEvent, Snapshot, StoreError, StoredEvent, StreamFold,
    StreamInfo,
};
use futures_util::TryStreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::db::{Db, to_i64, to_u64};
use crate::error::backend;

const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at, namespace";

/// The log from a position on, along the primary key. A type filter in SQL would let the
/// planner pick the type index and sort the rest of the log on every page (measured:
/// quadratic catch-up); filtering here costs at most the events of other types.
const LOG: &str = "SELECT position, event_id, stream_id, stream_version, event_type, event_version, payload, \
                   metadata, recorded_at, namespace FROM events WHERE position >= $1 ORDER BY position LIMIT $2";

fn stored_event(row: &Row) -> Result<StoredEvent, StoreError> {
    with_logged(row, |event| event.into_stored())
}

/// Calls `f` with the row (of [`COLUMNS`]) borrowed as a [`LogEvent`]; a column that does not
/// read as its type is a [`StoreError::CorruptRow`] naming it.
fn with_logged<T>(row: &Row, f: impl FnOnce(LogEvent<'_>) -> T) -> Result<T, StoreError> {
    let position =
        to_u64(row.try_get(0).map_err(|error| StoreError::CorruptRow { position: 0, reason: error.to_string() })?);
    let corrupt = |error: tokio_postgres::Error| StoreError::CorruptRow { position, reason: error.to_string() };
    let metadata = match row.try_get::<_, Option<&[u8]>>(7).map_err(corrupt)?.map(serde_json::from_slice::<Metadata>) {
        None => Metadata::default(),
        Some(Ok(metadata)) => metadata,
        Some(Err(error)) => {
            return Err(StoreError::CorruptRow { position, reason: format!("the metadata does not decode: {error}") });
        }
    };
    Ok(f(LogEvent {
        id: row.try_get(1).map_err(corrupt)?,
        stream_id: row.try_get(2).map_err(corrupt)?,
        stream_version: to_u64(row.try_get(3).map_err(corrupt)?),
        position,
        event_type: row.try_get(4).map_err(corrupt)?,
        event_version: u32::try_from(row.try_get::<_, i32>(5).map_err(corrupt)?).unwrap_or(0),
        payload: row.try_get(6).map_err(corrupt)?,
        metadata: Cow::Owned(metadata),
        recorded_at: row.try_get::<_, SystemTime>(8).map_err(corrupt)?,
        namespace: row.try_get(9).map_err(corrupt)?,
    }))
}

impl Db {
    pub(crate) async fn read_stream(
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

    /// The streams of `prefix` in byte order (`COLLATE "C"`, whatever the database's): the
    /// table is read whole for each page, as the index is in the column's collation.
    pub(crate) async fn streams(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>, StoreError> {
        let sql = "SELECT stream_id, max(stream_version), (array_agg(recorded_at ORDER BY stream_version DESC))[1] \
                   FROM events WHERE starts_with(stream_id, $1) AND ($2::text IS NULL OR stream_id COLLATE \"C\" > $2) \
                   GROUP BY stream_id ORDER BY stream_id COLLATE \"C\" LIMIT $3";
        let rows = self.rows("list the streams", sql, &[&prefix, &after, &to_i64(limit as u64)]).await?;
        Ok(rows
            .iter()
            .map(|row| StreamInfo { stream_id: row.get(0), version: to_u64(row.get(1)), last_recorded_at: row.get(2) })
            .collect())
    }

    pub(crate) async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = Vec::new();
        self.fold_log_with(from_position, max_count, types, &mut events).await?;
        Ok(events)
    }

    pub(crate) async fn fold_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> Result<Box<dyn StreamFold>, StoreError> {
        let failed = |error| backend("read a stream", error);
        let client = self.client("read a stream").await?;
        let statement = client
            .prepare_cached(
                "SELECT stream_version, position, event_type, event_version, payload FROM events
                 WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version",
            )
            .await
            .map_err(failed)?;
        let from = to_i64(from_version);
        let params: [&(dyn ToSql + Sync); 2] = [&stream_id, &from];
        let rows = client.query_raw(&statement, params).await.map_err(failed)?;
        futures_util::pin_mut!(rows);
        while let Some(row) = rows.try_next().await.map_err(failed)? {
            let corrupt = |error: tokio_postgres::Error| StoreError::CorruptRow {
                position: to_u64(row.try_get(1).unwrap_or(0)),
                reason: error.to_string(),
            };
            let raw = RawEvent {
                stream_id,
                stream_version: to_u64(row.try_get(0).map_err(corrupt)?),
                position: to_u64(row.try_get(1).map_err(corrupt)?),
                event_type: row.try_get(2).map_err(corrupt)?,
                event_version: u32::try_from(row.try_get::<_, i32>(3).map_err(corrupt)?).unwrap_or(0),
                payload: row.try_get(4).map_err(corrupt)?,
            };
            if !fold.fold(raw) {
                break;
            }
        }
        Ok(fold)
    }

    pub(crate) async fn fold_log(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        mut fold: Box<dyn LogFold>,
    ) -> Result<FoldedLog, StoreError> {
        let folded = self.fold_log_with(from_position, max_count, types, &mut fold).await?;
        Ok((fold, folded))
    }

    /// Feeds up to `max_count` events of the wanted types from `from_position` on to `fold`,
    /// the rows of each page streamed in as they arrive.
    async fn fold_log_with(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        sink: &mut (dyn Sink + Send),
    ) -> Result<LogFolded, StoreError> {
        let failed = |error| backend("read the log", error);
        let client = self.client("read the log").await?;
        let statement = client.prepare_cached(LOG).await.map_err(failed)?;
        let limit = to_i64(max_count as u64);
        let mut folded = LogFolded { folded: 0, stopped: false };
        let mut from = from_position;
        loop {
            let params: [&(dyn ToSql + Sync); 2] = [&to_i64(from), &limit];
            let rows = client.query_raw(&statement, params).await.map_err(failed)?;
            futures_util::pin_mut!(rows);
            let mut scanned = 0;
            while let Some(row) = rows.try_next().await.map_err(failed)? {
                scanned += 1;
                from = to_u64(row.try_get(0).map_err(failed)?) + 1;
                let event_type: &str = row.try_get(4).map_err(failed)?;
                if !types.is_empty() && !types.contains(&event_type) {
                    continue;
                }
                folded.folded += 1;
                if !with_logged(&row, |event| sink.take(event))? {
                    folded.stopped = true;
                    return Ok(folded);
                }
                if folded.folded == max_count {
                    return Ok(folded);
                }
            }
            if scanned < max_count || max_count == 0 {
                return Ok(folded);
            }
        }
    }

    pub(crate) async fn head(&self) -> Result<u64, StoreError> {
        let failed = |error| backend("read the head", error);
        let client = self.client("read the head").await?;
        let statement =
            crate::db::fresh(&client, "SELECT coalesce(max(position), 0) FROM events").await.map_err(failed)?;
        let row = client.query_one(&statement, &[]).await.map_err(failed)?;
        Ok(to_u64(row.get(0)))
    }

    pub(crate) async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let rows =
            self.rows("load a checkpoint", "SELECT position, state FROM checkpoints WHERE name = $1", &[&name]).await?;
        Ok(rows.first().map(|row| Checkpoint { position: to_u64(row.get(0)), state: row.get(1) }))
    }

    pub(crate) async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
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

    pub(crate) async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let rows = self
            .rows(
                "load a snapshot",
                "SELECT version, fingerprint, state FROM snapshots WHERE stream_id = $1",
                &[&stream_id],
            )
            .await?;
        Ok(rows.first().map(|row| Snapshot { version: to_u64(row.get(0)), fingerprint: row.get(1), state: row.get(2) }))
    }

    pub(crate) async fn save_snapshot(&self, stream_id: &str, snapshot: Snapshot) -> Result<(), StoreError> {
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
}

/// Where the log's rows go: a projection's fold, or a list `read_all` returns.
trait Sink {
    /// Takes one event; `false` stops the read.
    fn take(&mut self, event: LogEvent<'_>) -> bool;
}

impl Sink for Box<dyn LogFold> {
    fn take(&mut self, event: LogEvent<'_>) -> bool {
        self.fold(event)
    }
}

impl Sink for Vec<StoredEvent> {
    fn take(&mut self, event: LogEvent<'_>) -> bool {
        self.push(event.into_stored());
        true
    }
}
