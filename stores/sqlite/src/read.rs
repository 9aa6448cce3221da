//! The rows the store reads back: the column list, the log query, and a row as a borrowed
//! [`LogEvent`].

use eventsmith_runtime::recorded::Metadata;
use eventsmith_runtime::store::{LogEvent, StoreError, StoredEvent, StreamInfo};
use uuid::Uuid;

use crate::{from_micros, sqlite, to_u64};

pub(crate) const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at, namespace";

pub(crate) fn stored_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredEvent, StoreError>> {
    Ok(with_logged(row, |event| event.into_stored()))
}

/// The log read from position `?1`, at most `?2` events, of the `types` types bound from `?3`
/// on (all types when there are none). Only placeholders reach the SQL text. The unary `+`
/// keeps the type index out of the plan: walking the primary key and filtering stops after
/// the limit, where the index would make SQLite read every later event of those types and
/// sort them, on every page.
pub(crate) fn log_sql(types: usize) -> String {
    let filter = if types == 0 {
        String::new()
    } else {
        let placeholders: Vec<String> = (0..types).map(|index| format!("?{}", index + 3)).collect();
        format!(" AND +event_type IN ({})", placeholders.join(", "))
    };
    format!("SELECT {COLUMNS} FROM events WHERE position >= ?1{filter} ORDER BY position LIMIT ?2")
}

/// Calls `f` with the row (of [`COLUMNS`]) borrowed as a [`LogEvent`].
pub(crate) fn with_logged<T>(row: &rusqlite::Row<'_>, f: impl FnOnce(LogEvent<'_>) -> T) -> Result<T, StoreError> {
    let read = |error| sqlite("read", error);
    let position = to_u64(row.get(0).map_err(read)?);
    let corrupt = |reason: String| StoreError::CorruptRow { position, reason };
    let id = row.get_ref(1).and_then(|value| Ok(value.as_blob()?)).map_err(read)?;
    let Ok(id) = Uuid::from_slice(id) else {
        return Err(corrupt(format!("the event id has {} bytes, not 16", id.len())));
    };
    let metadata = match row.get_ref(7).and_then(|value| Ok(value.as_blob_or_null()?)).map_err(read)? {
        None => Metadata::default(),
        Some(bytes) => serde_json::from_slice::<Metadata>(bytes)
            .map_err(|error| corrupt(format!("the metadata does not decode: {error}")))?,
    };
    let text = |index| row.get_ref(index).and_then(|value| Ok(value.as_str()?)).map_err(read);
    Ok(f(LogEvent {
        id,
        stream_id: text(2)?,
        stream_version: to_u64(row.get(3).map_err(read)?),
        position,
        recorded_at: from_micros(row.get(8).map_err(read)?),
        namespace: row.get_ref(9).and_then(|value| Ok(value.as_str_or_null()?)).map_err(read)?,
        event_type: text(4)?,
        event_version: u32::try_from(row.get::<_, i64>(5).map_err(read)?).unwrap_or(0),
        payload: row.get_ref(6).and_then(|value| Ok(value.as_blob()?)).map_err(read)?,
        metadata: std::borrow::Cow::Owned(metadata),
    }))
}

pub(crate) fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Result<StoredEvent, StoreError>>>,
) -> Result<Vec<StoredEvent>, StoreError> {
    rows.map(|row| row.map_err(|error| sqlite("read", error))?).collect()
}

/// The streams from `prefix` up to `end` (the first id past the prefix), after `after`: one
/// walk of the `(stream_id, stream_version)` index, in its (byte) order, stopped at `limit`
/// streams. (With `MAX`, SQLite takes `recorded_at` from the row of the last version.)
pub(crate) fn streams(
    connection: &rusqlite::Connection,
    prefix: &str,
    after: Option<&str>,
    end: Option<&str>,
    limit: usize,
) -> Result<Vec<StreamInfo>, StoreError> {
    let read = |error| sqlite("list the streams", error);
    let from = after.filter(|after| *after >= prefix);
    let mut conditions = vec![if from.is_some() { "stream_id > ?1" } else { "stream_id >= ?1" }];
    if end.is_some() {
        conditions.push("stream_id < ?2");
    }
    let sql = format!(
        "SELECT stream_id, MAX(stream_version), recorded_at FROM events WHERE {} GROUP BY stream_id \
         ORDER BY stream_id LIMIT ?3",
        conditions.join(" AND ")
    );
    let mut statement = connection.prepare_cached(&sql).map_err(read)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement
        .query_map(rusqlite::params![from.unwrap_or(prefix), end, limit], |row| {
            Ok(StreamInfo {
                stream_id: row.get(0)?,
                version: to_u64(row.get(1)?),
                last_recorded_at: from_micros(row.get(2)?),
            })
        })
        .map_err(read)?;
    rows.collect::<Result<_, _>>().map_err(read)
}
