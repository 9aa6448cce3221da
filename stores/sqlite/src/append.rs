//! Appending: the group commit of the appends that wait for the write connection, and one
//! append's checks (expected version, exact retries, duplicate ids) inside its savepoint.

use std::collections::HashMap;
use std::time::SystemTime;

use eventsmith_runtime::store::batch::{PendingAppend, fail_all};
use eventsmith_runtime::store::sql::InlineWork;
use eventsmith_runtime::store::{AppendOutcome, ExpectedVersion, NewEvent, StoreError, StreamAppend};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{backend, from_micros, micros, sqlite, to_i64, to_u64};

/// The earlier append an exact retry repeats, if every event id is already stored in this
/// stream in this order; `None` if no id is stored; an error if only some are, or elsewhere.
fn earlier_append(
    transaction: &Connection,
    stream_id: &str,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let mut lookup = transaction
        .prepare_cached("SELECT stream_id, stream_version, position, recorded_at FROM events WHERE event_id = ?1")
        .map_err(|error| sqlite("append", error))?;
    let found = events
        .iter()
        .map(|event| {
            lookup
                .query_row([event.id.as_bytes().as_slice()], |row| {
                    Ok((row.get::<_, String>(0)?, to_u64(row.get(1)?), to_u64(row.get(2)?), row.get::<_, i64>(3)?))
                })
                .optional()
                .map_err(|error| sqlite("append", error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(Some((_, first_version, _, recorded_at))) = found.first().cloned() else {
        return match events.iter().zip(&found).find(|(_, row)| row.is_some()) {
            Some((event, _)) => Err(StoreError::DuplicateEvent { stream_id: stream_id.to_owned(), event_id: event.id }),
            None => Ok(None),
        };
    };
    let exact = found.iter().enumerate().all(|(offset, row)| {
        row.as_ref()
            .is_some_and(|(stream, version, _, _)| stream == stream_id && *version == first_version + offset as u64)
    });
    if !exact {
        return Err(StoreError::DuplicateEvent { stream_id: stream_id.to_owned(), event_id: events[0].id });
    }
    Ok(Some(AppendOutcome {
        first_version,
        positions: found.iter().flatten().map(|(_, _, position, _)| *position).collect(),
        recorded_at: from_micros(recorded_at),
        already_stored: true,
    }))
}

fn is_duplicate_id(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, Some(message))
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && message.contains("event_id"))
}

/// One append, in one `BEGIN IMMEDIATE` transaction. The common case costs one read (the
/// stream's version) and the inserts; the check for an earlier, identical append runs only
/// when the version does not match or an event id is already stored.
/// Commits `batch` in one `BEGIN IMMEDIATE` transaction, each append in a savepoint of its
/// own (a refused append rolls back alone), and answers each caller once the commit is done.
pub(crate) fn commit_appends(connection: &mut Connection, batch: Vec<PendingAppend>) {
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => return fail_all(batch, &sqlite("append", error)),
    };
    if let [append] = batch.as_slice() {
        // Alone in its transaction: no savepoint needed, a refusal rolls the whole of it back.
        let outcome = append_in(&transaction, &append.stream_id, append.expected, &append.events);
        let outcome = match outcome {
            Ok(outcome) if !outcome.already_stored => {
                transaction.commit().map_err(|error| sqlite("append", error)).map(|()| outcome)
            }
            other => other,
        };
        if let Some(append) = batch.into_iter().next() {
            append.answer(outcome);
        }
        return;
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for append in &batch {
        outcomes.push(in_savepoint(&mut transaction, &append.stream_id, append.expected, None, &append.events));
    }
    match transaction.commit() {
        Ok(()) => {
            for (append, outcome) in batch.into_iter().zip(outcomes) {
                append.answer(outcome);
            }
        }
        // Nothing of the batch was committed.
        Err(error) => fail_all(batch, &sqlite("append", error)),
    }
}

/// One append in a savepoint of its own: a refused append (or an exact retry, which writes
/// nothing) rolls back alone. `actual` is the stream's version, when known.
fn in_savepoint(
    transaction: &mut rusqlite::Transaction<'_>,
    stream_id: &str,
    expected: ExpectedVersion,
    actual: Option<u64>,
    events: &[NewEvent],
) -> Result<AppendOutcome, StoreError> {
    let mut savepoint = transaction.savepoint().map_err(|error| sqlite("append", error))?;
    let outcome = match actual {
        Some(actual) => append_at(&savepoint, stream_id, expected, actual, events),
        None => append_in(&savepoint, stream_id, expected, events),
    };
    if outcome.as_ref().is_ok_and(|outcome| !outcome.already_stored) {
        savepoint.commit().map_err(|error| sqlite("append", error)).and(outcome)
    } else {
        // Dropping the savepoint rolls it back: a refused append leaves nothing.
        savepoint.set_drop_behavior(rusqlite::DropBehavior::Rollback);
        outcome
    }
}

/// The versions of `streams` (0 for none), read by one statement.
fn versions(transaction: &Connection, streams: &[&str]) -> Result<HashMap<String, u64>, StoreError> {
    let failed = |error| sqlite("append", error);
    let list = serde_json::to_string(streams).map_err(|error| backend("append", false, error))?;
    let mut statement = transaction
        .prepare_cached(
            "SELECT value, (SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = value)
             FROM json_each(?1)",
        )
        .map_err(failed)?;
    let rows =
        statement.query_map([list], |row| Ok((row.get::<_, String>(0)?, to_u64(row.get(1)?)))).map_err(failed)?;
    rows.collect::<Result<_, _>>().map_err(failed)
}

/// Commits `appends` in order in one `BEGIN IMMEDIATE` transaction until one is refused:
/// those before it are committed, none after it is tried. The streams' versions are read
/// by one statement first; an append of one event needs no savepoint (its insert is
/// written whole or not at all), a longer one has its own.
pub(crate) fn commit_streams(
    connection: &mut Connection,
    appends: &[StreamAppend],
) -> Vec<Result<AppendOutcome, StoreError>> {
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => return vec![Err(sqlite("append", error))],
    };
    let mut streams: Vec<&str> = appends.iter().map(|append| append.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let mut versions = match versions(&transaction, &streams) {
        Ok(versions) => versions,
        Err(error) => return vec![Err(error)],
    };
    let mut outcomes = Vec::with_capacity(appends.len());
    for append in appends {
        let actual = versions.get(&append.stream_id).copied();
        let outcome = match append.events.len() {
            0 => Err(StoreError::EmptyAppend { stream_id: append.stream_id.clone() }),
            1 => match actual {
                Some(actual) => append_at(&transaction, &append.stream_id, append.expected, actual, &append.events),
                None => append_in(&transaction, &append.stream_id, append.expected, &append.events),
            },
            _ => in_savepoint(&mut transaction, &append.stream_id, append.expected, actual, &append.events),
        };
        match &outcome {
            Ok(written) if !written.already_stored => {
                versions.insert(append.stream_id.clone(), written.first_version + written.positions.len() as u64 - 1);
            }
            Ok(_) => {}
            Err(_) => {
                outcomes.push(outcome);
                break;
            }
        }
        outcomes.push(outcome);
    }
    match transaction.commit() {
        Ok(()) => outcomes,
        // Nothing was committed: as if the first append had failed.
        Err(error) => vec![Err(sqlite("append", error))],
    }
}

/// One append with inline projections, in a `BEGIN IMMEDIATE` transaction of its own: the
/// append as [`append_in`] makes it, then the projections through the same connection, then
/// the commit. A projection that fails rolls the append back.
pub(crate) fn commit_inline(
    connection: &mut Connection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    inline: &dyn InlineWork,
) -> Result<AppendOutcome, StoreError> {
    // A transaction a panic left open (the lock ignores poisoning) is rolled back first.
    if !connection.is_autocommit() {
        connection.execute_batch("ROLLBACK").map_err(|error| sqlite("append", error))?;
    }
    connection.execute_batch("BEGIN IMMEDIATE").map_err(|error| sqlite("append", error))?;
    let appended = (|| {
        let after: i64 = connection
            .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| row.get(0))
            .map_err(|error| sqlite("append", error))?;
        let outcome = append_in(connection, stream_id, expected, events)?;
        if !outcome.already_stored {
            crate::sql::run_inline(connection, inline, to_u64(after), stream_id, events, &outcome)?;
        }
        Ok(outcome)
    })();
    match appended {
        Ok(outcome) if !outcome.already_stored => match connection.execute_batch("COMMIT") {
            Ok(()) => Ok(outcome),
            Err(error) => {
                let _ = connection.execute_batch("ROLLBACK");
                Err(sqlite("append", error))
            }
        },
        other => {
            connection.execute_batch("ROLLBACK").map_err(|error| sqlite("append", error))?;
            other
        }
    }
}

/// A stream's version (0 for none).
const VERSION: &str = "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?1";

/// One append inside the caller's transaction (savepoint): the version check, the inserts,
/// or the outcome of the earlier append it repeats.
fn append_in(
    transaction: &Connection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<AppendOutcome, StoreError> {
    let actual: i64 = transaction
        .prepare_cached(VERSION)
        .and_then(|mut statement| statement.query_row([stream_id], |row| row.get(0)))
        .map_err(|error| sqlite("append", error))?;
    append_at(transaction, stream_id, expected, to_u64(actual), events)
}

/// [`append_in`] with the stream's version known (`actual`).
fn append_at(
    transaction: &Connection,
    stream_id: &str,
    expected: ExpectedVersion,
    actual: u64,
    events: &[NewEvent],
) -> Result<AppendOutcome, StoreError> {
    if !expected.admits(actual) {
        return match earlier_append(transaction, stream_id, events)? {
            Some(outcome) => Ok(outcome),
            None => Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual }),
        };
    }
    // As stored (microseconds), so that the outcome and later reads agree.
    let recorded_at = from_micros(micros(SystemTime::now()));
    let mut positions = Vec::with_capacity(events.len());
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at, namespace)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(|error| sqlite("append", error))?;
        for (offset, event) in events.iter().enumerate() {
            let metadata = if event.metadata.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&event.metadata).map_err(|error| backend("append", false, error))?)
            };
            let inserted = insert.insert(params![
                event.id.as_bytes().as_slice(),
                stream_id,
                to_i64(actual + offset as u64 + 1),
                event.event_type.as_ref(),
                i64::from(event.event_version),
                event.payload,
                metadata,
                micros(recorded_at),
                event.namespace.as_deref(),
            ]);
            match inserted {
                Ok(position) => positions.push(to_u64(position)),
                // An id already stored: an exact retry of an earlier append, or an error. The
                // savepoint is rolled back, so nothing of this append stays.
                Err(error) if is_duplicate_id(&error) => {
                    return match earlier_append(transaction, stream_id, events) {
                        Ok(Some(outcome)) => Ok(outcome),
                        Ok(None) => Err(sqlite("append", error)),
                        // The id whose insert failed is the one stored before (the events of
                        // this append inserted so far are found too, and are not duplicates).
                        Err(StoreError::DuplicateEvent { stream_id, .. }) => {
                            Err(StoreError::DuplicateEvent { stream_id, event_id: event.id })
                        }
                        Err(other) => Err(other),
                    };
                }
                Err(error) => return Err(sqlite("append", error)),
            }
        }
    }
    Ok(AppendOutcome { first_version: actual + 1, positions, recorded_at, already_stored: false })
}

#[cfg(test)]
mod tests {
    use eventsmith_runtime::store::{ExpectedVersion, NewEvent};
    use rusqlite::StatementStatus;

    use super::VERSION;
    use crate::SqliteOptions;
    use crate::read::log_sql;
    use crate::schema::{Location, open_writer};

    /// The statements of an append and of a read of the log are compiled once per connection.
    /// rusqlite's cache clears a statement's bindings whenever it takes the statement back,
    /// and SQLite compiles a statement whose plan may depend on a bound value again after
    /// that, unless the connection keeps its plans stable: the version lookup and the log
    /// read were compiled again at every use.
    #[test]
    fn cached_statements_are_not_compiled_again() {
        let connection = open_writer(&Location::Memory, SqliteOptions::default()).unwrap();
        let read = log_sql(0);
        for n in 0..4_i64 {
            connection.execute_batch("BEGIN IMMEDIATE").unwrap();
            let event = NewEvent::new("Placed", 1, b"{}".to_vec());
            super::append_in(&connection, &format!("Order-{n}"), ExpectedVersion::Any, &[event]).unwrap();
            connection.execute_batch("COMMIT").unwrap();
            // From the event just appended (positions start at 1).
            let mut statement = connection.prepare_cached(&read).unwrap();
            let read_back = statement.query_map([n + 1, 10], |row| row.get::<_, i64>(0)).unwrap().count();
            assert_eq!(read_back, 1);
        }
        for sql in [VERSION, read.as_str()] {
            let compiled_again = connection.prepare_cached(sql).unwrap().get_status(StatementStatus::RePrepare);
            assert_eq!(compiled_again, 0, "{sql}");
        }
    }
}
