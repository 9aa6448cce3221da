//! The store's errors: the server's own message in every backend error, which ones are worth
//! retrying, and the SQLSTATEs the append functions raise.

use eventsmith_runtime::store::{ExpectedVersion, NewEvent, StoreError};
use tokio_postgres::error::SqlState;

// The migrations raise these SQLSTATEs of their own: ES400 (an append without events, which
// the store refuses before sending it), ES403 (a change to a stored event, refused by the
// triggers), and the two an append is answered with:

/// Raised by the append function when the expected version does not hold (detail: the
/// stream's version).
pub(crate) const VERSION_CONFLICT: &str = "ES409";
/// Raised when some of an append's ids are stored, but not as that append (detail: the id).
pub(crate) const DUPLICATE_ID: &str = "ES422";

/// A driver error as a [`StoreError::Backend`], retryable when the connection or the server
/// went away, or the transaction lost a race it may win next time.
pub(crate) fn backend(operation: &'static str, error: tokio_postgres::Error) -> StoreError {
    let retryable = error.is_closed() || error.code().is_none_or(transient);
    let message = match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error.to_string(),
    };
    StoreError::backend(operation, retryable, PostgresError { message, source: error })
}

/// A SQLSTATE that a later try may not meet: the connection or the server went away, or the
/// transaction lost a race.
pub(crate) fn transient(code: &SqlState) -> bool {
    // 08: connection; 53: insufficient resources (disk, memory, connections); 58: system
    // errors (I/O); 57: operator intervention (shutdowns, a cancelled or timed-out statement).
    ["08", "53", "58", "57"].iter().any(|class| code.code().starts_with(class))
        || [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_STATEMENT_COMPLETION_UNKNOWN,
            SqlState::LOCK_NOT_AVAILABLE,
        ]
        .contains(code)
}

/// A driver error whose text is the server's own message rather than "db error".
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct PostgresError {
    message: String,
    #[source]
    source: tokio_postgres::Error,
}

pub(crate) fn pool_error(operation: &'static str, error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => backend(operation, error),
        other => StoreError::backend(operation, true, other),
    }
}

/// The SQLSTATE of a server error, and its detail.
pub(crate) fn state_and_detail(error: &tokio_postgres::Error) -> (Option<&str>, Option<String>) {
    (error.code().map(SqlState::code), error.as_db_error().and_then(|db| db.detail().map(str::to_owned)))
}

/// A version conflict, the detail being the stream's version.
pub(crate) fn conflict(stream_id: &str, expected: ExpectedVersion, detail: Option<&str>) -> StoreError {
    StoreError::Conflict {
        stream_id: stream_id.to_owned(),
        expected,
        actual: detail.and_then(|actual| actual.parse().ok()).unwrap_or(0),
    }
}

/// An id already stored but not as this append, the detail being the id (the append's first
/// when the server did not say which).
pub(crate) fn duplicate(stream_id: &str, events: &[NewEvent], detail: Option<&str>) -> StoreError {
    StoreError::DuplicateEvent {
        stream_id: stream_id.to_owned(),
        event_id: detail.and_then(|id| id.parse().ok()).unwrap_or(events[0].id),
    }
}
