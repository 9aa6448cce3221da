//! Appends at an expected version as plain statements, where the store's role may insert into
//! `events`: the lock, the check, the insert, the positions and the notification in one
//! statement, without the functions' subtransactions.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use eventsmith_runtime::store::batch::{PendingAppend, fail_all};
use eventsmith_runtime::store::{AppendOutcome, ExpectedVersion, NewEvent, StoreError};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{Columns, Writer, at_version, current_version, earlier_append};
use crate::db::{to_i64, to_u64};
use crate::error::backend;

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
pub(super) const APPEND_AT_VERSION: &str = "
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

impl Writer {
    /// [`APPEND_AT_VERSION`]; a refusal is told apart afterwards (an exact retry of an
    /// earlier append, a duplicate id, or a version conflict), as the function does.
    pub(super) async fn append_at_version(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        version: u64,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        let mut columns = Columns::default();
        columns.push(events)?;
        let client = self.db.client("append").await?;
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
            &self.db.lock,
            &self.db.channel,
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
            if refused_by.is_some()
                || tries == 2
                || version == 0
                || current_version(&client, stream_id).await? != version
            {
                break refused_by;
            }
        };
        if let Some(outcome) = earlier_append(&client, stream_id, events).await? {
            return Ok(outcome);
        }
        let actual = current_version(&client, stream_id).await?;
        if actual == version
            && let Some(error) = refused_by
        {
            // Not a version taken and no id stored: some other unique key.
            return Err(backend("append", error));
        }
        Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual })
    }

    /// Appends that are all at expected versions, as one statement ([`APPEND_MANY_AT_VERSIONS`]).
    pub(super) async fn append_many_at_versions(&self, batch: Vec<PendingAppend>) {
        // The first append of each stream goes into the statement; the others (which mostly
        // conflict with it) and any whose version did not hold go through the batch function
        // afterwards, which tells conflicts, retries and duplicates apart in one call.
        let mut streams = HashSet::new();
        let (lead, mut rest): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|append| streams.insert(append.stream_id.clone()));
        match self.call_many_at_versions(&lead).await {
            Ok(rows) => {
                // Each append's events are found by their ids: the rows of another append to
                // the same stream can never pass for them.
                let inserted: HashMap<Uuid, (u64, u64, SystemTime)> =
                    rows.iter().map(|row| (row.get(0), (to_u64(row.get(1)), to_u64(row.get(2)), row.get(3)))).collect();
                for append in lead {
                    let after = at_version(append.expected).unwrap_or(0);
                    let found: Vec<(u64, u64, SystemTime)> =
                        append.events.iter().filter_map(|event| inserted.get(&event.id).copied()).collect();
                    if found.len() == append.events.len() && found[0].0 == after + 1 {
                        let outcome = AppendOutcome {
                            first_version: after + 1,
                            recorded_at: found[0].2,
                            positions: found.into_iter().map(|(_, position, _)| position).collect(),
                            already_stored: false,
                        };
                        append.answer(Ok(outcome));
                    } else {
                        rest.push(append);
                    }
                }
            }
            // A version or an id taken: the function tells which, and commits the others.
            Err(None) => rest.extend(lead),
            Err(Some(error)) => fail_all(lead, &error),
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
        let client = self.db.client("append").await.map_err(Some)?;
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
            &self.db.lock,
            &self.db.channel,
            &columns.namespaces,
        ];
        match client.query(&statement, &params).await {
            Ok(rows) => Ok(rows),
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(None),
            Err(error) => Err(Some(backend("append", error))),
        }
    }
}
