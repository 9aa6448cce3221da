//! Large appends as one binary `COPY`: under the store-wide lock, the version checked, the
//! events written, their positions read back and the notification sent, in one transaction
//! (the same checks and order as the append function), on a pooled connection of its own.

use std::time::SystemTime;

use deadpool_postgres::Object;
use eventsmith_runtime::store::{AppendOutcome, ExpectedVersion, NewEvent, StoreError, StreamAppend};
use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use super::earlier_append;
use crate::db::{CURRENT_VERSION, Db, encode_metadata, fresh, to_i64, to_u64};
use crate::error::{backend, duplicate};
use crate::sql::Transaction;

/// Why a `COPY` append did not commit: a version conflict (with the actual version), an event
/// id already stored (an exact retry, or a duplicate), or a failure.
enum CopyRefusal {
    Conflict(u64),
    Duplicate,
    Store(StoreError),
}

impl Db {
    pub(crate) async fn append_copy(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        // Guarded from before `BEGIN` is sent: a future dropped anywhere in the transaction
        // discards the connection rather than return it to the pool inside one.
        let transaction = Transaction::adopt(self.client("append").await?);
        let refusal = match self.copy_in_transaction(transaction.client(), stream_id, expected, events).await {
            Ok(outcome) => {
                transaction.release();
                return Ok(outcome);
            }
            Err(refusal) => refusal,
        };
        // The transaction failed: end it before the connection goes back to the pool.
        transaction.end("ROLLBACK", "append").await?;
        let client = self.client("append").await?;
        let actual = match refusal {
            CopyRefusal::Store(error) => return Err(error),
            CopyRefusal::Conflict(actual) => Some(actual),
            CopyRefusal::Duplicate => None,
        };
        // An exact retry of an earlier append is acknowledged, as by the function.
        match (earlier_append(&client, stream_id, events).await?, actual) {
            (Some(outcome), _) => Ok(outcome),
            (None, Some(actual)) => Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual }),
            (None, None) => Err(duplicate(stream_id, events, None)),
        }
    }

    async fn copy_in_transaction(
        &self,
        client: &Object,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, CopyRefusal> {
        let failed = |error: tokio_postgres::Error| CopyRefusal::Store(backend("append", error));
        let lock = client.prepare_cached("SELECT pg_advisory_xact_lock($1)").await.map_err(failed)?;
        let head = fresh(client, CURRENT_VERSION).await.map_err(failed)?;
        let positions = fresh(
            client,
            "SELECT array_agg(position ORDER BY stream_version), pg_notify($3, max(position)::text) \
             FROM events WHERE stream_id = $1 AND stream_version > $2",
        )
        .await
        .map_err(failed)?;
        // Pipelined, one round trip; the version is read by a statement of its own, so after
        // the lock is held.
        let (lock_params, head_params): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
            ([&self.lock], [&stream_id]);
        let (_, _, row) = tokio::try_join!(
            client.batch_execute("BEGIN"),
            client.execute(&lock, &lock_params),
            client.query_one(&head, &head_params),
        )
        .map_err(failed)?;
        let actual = to_u64(row.get(0));
        let now: SystemTime = row.get(1);
        if !expected.admits(actual) {
            return Err(CopyRefusal::Conflict(actual));
        }
        let rows: Vec<(&str, u64, &NewEvent)> =
            events.iter().zip(actual + 1..).map(|(event, version)| (stream_id, version, event)).collect();
        copy_events(client, &rows, now).await?;
        let after = to_i64(actual);
        let params: [&(dyn ToSql + Sync); 3] = [&stream_id, &after, &self.channel];
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
}

/// One append of a multi-stream `COPY`, with the versions it takes.
struct Placed<'a> {
    append: &'a StreamAppend,
    first_version: u64,
}

impl Db {
    /// Appends to several streams in one transaction: under the store-wide lock, every
    /// stream's version read at once and each append's expectation checked in order (a
    /// later append to a stream after the earlier ones), the events of all written by one
    /// binary `COPY`, their positions read back and one notification sent.
    ///
    /// # Errors
    /// `Err(None)` when an append is refused (a version that does not hold, an id already
    /// stored): nothing is written, and the caller appends one at a time, which says which
    /// and acknowledges exact retries. `Err(Some(error))` for a failure.
    pub(crate) async fn append_streams_copy(
        &self,
        appends: &[StreamAppend],
    ) -> Result<Vec<AppendOutcome>, Option<StoreError>> {
        let transaction = Transaction::adopt(self.client("append").await.map_err(Some)?);
        match self.streams_copy_in_transaction(transaction.client(), appends).await {
            Ok(outcomes) => {
                transaction.release();
                Ok(outcomes)
            }
            Err(refusal) => {
                transaction.end("ROLLBACK", "append").await.map_err(Some)?;
                Err(match refusal {
                    CopyRefusal::Store(error) => Some(error),
                    CopyRefusal::Conflict(_) | CopyRefusal::Duplicate => None,
                })
            }
        }
    }

    async fn streams_copy_in_transaction(
        &self,
        client: &Object,
        appends: &[StreamAppend],
    ) -> Result<Vec<AppendOutcome>, CopyRefusal> {
        let failed = |error: tokio_postgres::Error| CopyRefusal::Store(backend("append", error));
        let mut streams: Vec<&str> = appends.iter().map(|append| append.stream_id.as_str()).collect();
        streams.sort_unstable();
        streams.dedup();
        let lock = client.prepare_cached("SELECT pg_advisory_xact_lock($1)").await.map_err(failed)?;
        // The log's last position and the commit time, under the lock: every position after
        // it is this transaction's, drawn in the order of the rows copied.
        let end =
            fresh(client, "SELECT coalesce(max(position), 0), clock_timestamp() FROM events").await.map_err(failed)?;
        let range = fresh(
            client,
            "SELECT min(position), max(position), pg_notify($2, max(position)::text) FROM events WHERE position > $1",
        )
        .await
        .map_err(failed)?;
        let lock_params: [&(dyn ToSql + Sync); 1] = [&self.lock];
        let (_, _, end) = tokio::try_join!(
            client.batch_execute("BEGIN"),
            client.execute(&lock, &lock_params),
            client.query_one(&end, &[]),
        )
        .map_err(failed)?;
        let (after, now): (i64, SystemTime) = (end.get(0), end.get(1));
        // When each stream's first append says its version exactly (as an import's do), the
        // events are copied at those versions while another connection reads the streams'
        // versions: under the lock nothing else appends, so what it reads is the log as this
        // transaction found it. A version that differs rolls it all back (as a duplicate of
        // a later version would, by the table's constraint). Else the versions come first.
        let assumed = assumed_versions(appends);
        let spare = match &assumed {
            Some(_) => self.spare_client("append").await,
            None => None,
        };
        let (placed, rows) = match (assumed, spare) {
            (Some(assumed), Some(spare)) => {
                let (placed, rows) = place(appends, &assumed)?;
                let (heads, copied) = tokio::join!(stream_heads(&spare, &streams), copy_events(client, &rows, now));
                copied?;
                let heads = heads.map_err(failed)?;
                if let Some((_, actual)) = heads.iter().find(|(stream, actual)| assumed.get(stream) != Some(actual)) {
                    return Err(CopyRefusal::Conflict(*actual));
                }
                (placed, rows)
            }
            _ => {
                let heads = stream_heads(client, &streams).await.map_err(failed)?;
                let (placed, rows) = place(appends, &heads.into_iter().collect())?;
                copy_events(client, &rows, now).await?;
                (placed, rows)
            }
        };
        drop(rows);
        // The rows' positions, in the order they were copied: under the lock, every row after
        // `after` is this transaction's, its positions drawn in the order of the rows. Two
        // ends of the index say them when they are consecutive (as they are unless the
        // sequence skips), else they are read one by one.
        let params: [&(dyn ToSql + Sync); 2] = [&after, &self.channel];
        let (row, ()) =
            tokio::try_join!(client.query_one(&range, &params), client.batch_execute("COMMIT")).map_err(failed)?;
        let (first, last): (i64, i64) = (row.get(0), row.get(1));
        let copied: usize = placed.iter().map(|placed| placed.append.events.len()).sum();
        let positions: Vec<u64> = if usize::try_from(last - first + 1).is_ok_and(|span| span == copied) {
            (to_u64(first)..=to_u64(last)).collect()
        } else {
            // Committed: the rows between the two ends are still this append's alone, as
            // later appends take positions after them.
            let each = fresh(
                client,
                "SELECT array_agg(position ORDER BY position) FROM events WHERE position > $1 AND position <= $2",
            )
            .await
            .map_err(failed)?;
            let row = client.query_one(&each, &[&after, &last]).await.map_err(failed)?;
            row.get::<_, Vec<i64>>(0).into_iter().map(to_u64).collect()
        };
        let mut positions = positions.into_iter();
        Ok(placed
            .iter()
            .map(|placed| AppendOutcome {
                first_version: placed.first_version,
                positions: positions.by_ref().take(placed.append.events.len()).collect(),
                recorded_at: now,
                already_stored: false,
            })
            .collect())
    }
}

/// Each stream's version as the first append to it in `appends` expects it exactly (`Exact`
/// or `NoStream`); `None` when one does not say (`Any`, `StreamExists`).
fn assumed_versions(appends: &[StreamAppend]) -> Option<std::collections::HashMap<String, u64>> {
    let mut versions = std::collections::HashMap::with_capacity(appends.len());
    for append in appends {
        if versions.contains_key(&append.stream_id) {
            continue;
        }
        let version = match append.expected {
            ExpectedVersion::Exact(version) => version,
            ExpectedVersion::NoStream => 0,
            ExpectedVersion::Any | ExpectedVersion::StreamExists => return None,
        };
        versions.insert(append.stream_id.clone(), version);
    }
    Some(versions)
}

/// Each append's first version from its stream's version before the batch (`heads`; 0 for a
/// stream not there), checking each expectation in order: a later append to a stream after
/// the earlier ones. The rows to copy, in order.
#[allow(clippy::type_complexity)]
fn place<'a>(
    appends: &'a [StreamAppend],
    heads: &std::collections::HashMap<String, u64>,
) -> Result<(Vec<Placed<'a>>, Vec<(&'a str, u64, &'a NewEvent)>), CopyRefusal> {
    let mut versions: std::collections::HashMap<&str, u64> = std::collections::HashMap::with_capacity(heads.len());
    let mut placed = Vec::with_capacity(appends.len());
    for append in appends {
        let stream_id = append.stream_id.as_str();
        let version = versions.entry(stream_id).or_insert_with(|| heads.get(stream_id).copied().unwrap_or(0));
        if !append.expected.admits(*version) {
            return Err(CopyRefusal::Conflict(*version));
        }
        placed.push(Placed { append, first_version: *version + 1 });
        *version += append.events.len() as u64;
    }
    let rows = placed
        .iter()
        .flat_map(|&Placed { append, first_version }| {
            let stream_id = append.stream_id.as_str();
            append.events.iter().zip(first_version..).map(move |(event, version)| (stream_id, version, event))
        })
        .collect();
    Ok((placed, rows))
}

/// The version of each of `streams` (0 for one with no events).
async fn stream_heads(client: &Object, streams: &[&str]) -> Result<Vec<(String, u64)>, tokio_postgres::Error> {
    let heads = fresh(
        client,
        "SELECT s.stream_id, coalesce((SELECT max(e.stream_version) FROM events e WHERE e.stream_id = s.stream_id), 0) \
         FROM unnest($1::text[]) AS s(stream_id)",
    )
    .await?;
    let rows = client.query(&heads, &[&streams]).await?;
    Ok(rows.iter().map(|row| (row.get::<_, String>(0), to_u64(row.get(1)))).collect())
}

/// Writes `rows` (stream, stream version, event) into `events` with one binary `COPY`, in
/// their order, each committed at `now`.
async fn copy_events(client: &Object, rows: &[(&str, u64, &NewEvent)], now: SystemTime) -> Result<(), CopyRefusal> {
    let sink = client
        .copy_in(
            "COPY events (event_id, stream_id, stream_version, namespace, event_type, event_version, payload, metadata, \
             recorded_at) FROM STDIN BINARY",
        )
        .await
        .map_err(|error| CopyRefusal::Store(backend("append", error)))?;
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
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    let copy_failed = |error: tokio_postgres::Error| {
        if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            CopyRefusal::Duplicate
        } else {
            CopyRefusal::Store(backend("append", error))
        }
    };
    for &(stream_id, version, event) in rows {
        let version = to_i64(version);
        let event_version = i32::try_from(event.event_version).unwrap_or(i32::MAX);
        let metadata = encode_metadata(&event.metadata).map_err(CopyRefusal::Store)?;
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
        writer.as_mut().write(&row).await.map_err(copy_failed)?;
    }
    writer.finish().await.map_err(copy_failed)?;
    Ok(())
}
