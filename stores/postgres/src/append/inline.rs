//! An append with inline projections: under the store-wide lock, in one explicit
//! transaction, the version checked, the events written as by [`APPEND_AT_VERSION`], then the
//! projections applied through the same connection, and the commit. A projection that fails
//! rolls the append back.

use eventsmith_runtime::sql::{InlineWork, Sql, SqlError};
use eventsmith_runtime::store::{AppendOutcome, ExpectedVersion, NewEvent, StoreError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::statement::APPEND_AT_VERSION;
use super::{Columns, earlier_append};
use crate::db::{Db, fresh, to_i64, to_u64};
use crate::error::{backend, duplicate};
use crate::sql::{Statements, Transaction};

/// The stream's version (0 for none) and the head of the log, in one statement.
const VERSION_AND_HEAD: &str =
    "SELECT coalesce(max(stream_version), 0), (SELECT coalesce(max(position), 0) FROM events)
     FROM events WHERE stream_id = $1";

impl Db {
    pub(crate) async fn append_inline(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
        inline: &dyn InlineWork,
    ) -> Result<AppendOutcome, StoreError> {
        if !self.can_insert() {
            return Err(StoreError::Unsupported {
                capability: "inline projections (the store's role may not insert into `events` itself)",
            });
        }
        let mut columns = Columns::default();
        columns.push(events)?;
        let failed = |error| backend("append", error);
        let transaction = Transaction::begin(self.client("append").await?, "append").await?;
        let client = transaction.client();
        let lock = client.prepare_cached("SELECT pg_advisory_xact_lock($1)").await.map_err(failed)?;
        client.execute(&lock, &[&self.lock]).await.map_err(failed)?;
        // Read after the lock is taken (a statement of its own, so that it sees every append
        // committed before), and planned for the log as it is now.
        let read = fresh(client, VERSION_AND_HEAD).await.map_err(failed)?;
        let row = client.query_one(&read, &[&stream_id]).await.map_err(failed)?;
        let (actual, after) = (to_u64(row.get(0)), to_u64(row.get(1)));
        if !expected.admits(actual) {
            transaction.end("ROLLBACK", "append").await?;
            return match earlier_append(&self.client("append").await?, stream_id, events).await? {
                Some(outcome) => Ok(outcome),
                None => Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual }),
            };
        }
        let version = to_i64(actual);
        let params: [&(dyn ToSql + Sync); 10] = [
            &stream_id,
            &version,
            &columns.ids,
            &columns.types,
            &columns.versions,
            &columns.payloads,
            &columns.metadata,
            &self.lock,
            &self.channel,
            &columns.namespaces,
        ];
        let statement = client.prepare_cached(APPEND_AT_VERSION).await.map_err(failed)?;
        let row = match client.query_one(&statement, &params).await {
            Ok(row) => row,
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                transaction.end("ROLLBACK", "append").await?;
                return match earlier_append(&self.client("append").await?, stream_id, events).await? {
                    Some(outcome) => Ok(outcome),
                    None => Err(duplicate(stream_id, events, None)),
                };
            }
            Err(error) => return Err(failed(error)),
        };
        let positions: Vec<i64> = row.get::<_, Option<Vec<i64>>>(0).unwrap_or_default();
        let outcome = AppendOutcome {
            first_version: actual + 1,
            positions: positions.into_iter().map(to_u64).collect(),
            recorded_at: row.get(1),
            already_stored: false,
        };
        let mut statements = Statements { client, failed: None };
        let applied = inline.apply(&mut Sql::new(&mut statements), after, stream_id, events, &outcome).await;
        if let Err(error) = applied {
            transaction.end("ROLLBACK", "append").await?;
            return Err(inline_failed(error));
        }
        transaction.end("COMMIT", "append").await?;
        Ok(outcome)
    }
}

/// An inline projection's failure as the append's: retryable when the database failed.
fn inline_failed(error: SqlError) -> StoreError {
    match error {
        SqlError::Store(error) => error,
        refused => StoreError::backend("apply inline projections", false, refused.to_string()),
    }
}
