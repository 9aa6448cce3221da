//! Appends through the `SECURITY DEFINER` functions: `eventsmith_append` for one, and
//! `eventsmith_append_batch` for several in one call and one commit, each in a block of its
//! own so that a refused one rolls back alone. The path of `Any` and `StreamExists`, and of
//! every append of a role that may not insert into `events` itself.

use eventsmith_runtime::store::batch::{PendingAppend, fail_all};
use eventsmith_runtime::store::{AppendOutcome, ExpectedVersion, NewEvent, StoreError};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::{Columns, Writer, expected_columns, outcome_of};
use crate::error::{DUPLICATE_ID, VERSION_CONFLICT, backend, conflict, duplicate, state_and_detail};

/// The status column of `eventsmith_append_batch`: appended (or acknowledged as a retry).
const APPENDED: i16 = 0;
/// The status column of `eventsmith_append_batch`: a version conflict (detail: the version).
const CONFLICTED: i16 = 1;

impl Writer {
    pub(super) async fn append_through_function(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        let (kind, version) = expected_columns(expected);
        let mut columns = Columns::default();
        columns.push(events)?;
        let client = self.db.client("append").await?;
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
                    &self.db.channel,
                    &self.db.lock,
                ],
            )
            .await;
        row.map(|row| outcome_of(&row, 0)).map_err(|error| match state_and_detail(&error) {
            (Some(VERSION_CONFLICT), detail) => conflict(stream_id, expected, detail.as_deref()),
            (Some(DUPLICATE_ID), detail) => duplicate(stream_id, events, detail.as_deref()),
            (Some(code), detail) if code == SqlState::UNIQUE_VIOLATION.code() => {
                duplicate(stream_id, events, detail.as_deref())
            }
            _ => backend("append", error),
        })
    }

    /// Several appends in one call of the batch function, each answered on its own.
    pub(super) async fn append_many(&self, batch: Vec<PendingAppend>) {
        match self.call_batch(&batch).await {
            Ok(rows) if rows.len() == batch.len() => {
                for (append, row) in batch.into_iter().zip(rows) {
                    let status: i16 = row.get(0);
                    let detail: Option<String> = row.get(1);
                    let outcome = match status {
                        APPENDED => Ok(outcome_of(&row, 2)),
                        CONFLICTED => Err(conflict(&append.stream_id, append.expected, detail.as_deref())),
                        _ => Err(duplicate(&append.stream_id, &append.events, detail.as_deref())),
                    };
                    append.answer(outcome);
                }
            }
            Ok(rows) => {
                let message = format!("the batch append answered {} rows for {} appends", rows.len(), batch.len());
                fail_all(batch, &StoreError::backend("append", false, message));
            }
            // Nothing of the batch was committed: one transaction.
            Err(error) => fail_all(batch, &error),
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
        let client = self.db.client("append").await?;
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
                    &self.db.channel,
                    &self.db.lock,
                ],
            )
            .await
            .map_err(|error| backend("append", error))
    }
}
