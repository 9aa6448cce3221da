//! Appending. Every path takes the store-wide advisory lock before it takes a position, so
//! positions are drawn and commits made in one order (see the crate's documentation), checks
//! the expected version under that lock, acknowledges an exact retry of an earlier append
//! with its outcome, and notifies live readers. Which path an append takes:
//!
//! | the append | the role may `INSERT` into `events` | path | module |
//! |---|---|---|---|
//! | 128 events or more | yes | one binary `COPY`, on a connection of its own | `copy` |
//! | alone at an expected version (`Exact`, `NoStream`) | yes | one plain statement | `statement` |
//! | several waiting, all at expected versions | yes | one plain statement for the first of each stream; the others through the batch function | `statement` |
//! | `Any` or `StreamExists`; any append of a least-privileged role | either | the `eventsmith_append` function (`SECURITY DEFINER`); several waiting: `eventsmith_append_batch`, one call | `function` |
//!
//! All but `COPY` go through one writer task: the appends that arrive while a call is in
//! flight are gathered into the next call, one round trip and one commit for all
//! (PostgreSQL's group commit, done by the client).

mod copy;
mod function;
mod inline;
mod statement;

use std::sync::Arc;

use deadpool_postgres::GenericClient;
use eventsmith_runtime::store::batch::PendingAppend;
use eventsmith_runtime::store::{AppendOutcome, ExpectedVersion, NewEvent, StoreError};
use tokio::sync::mpsc;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::{Db, encode_metadata, to_i64, to_u64};
use crate::error::{DUPLICATE_ID, backend, duplicate, state_and_detail};

/// At most this many appends waiting for the writer go into one call.
const MAX_COALESCED: usize = 64;

/// Appends of at least this many events are written with a binary `COPY` on a connection of
/// their own (when the store's role may insert into the table), not through the writer: a
/// few round trips more, and half the time per event of an `INSERT` from arrays.
pub(crate) const COPY_FROM: usize = 128;

/// The task every append but a `COPY` goes through.
pub(crate) struct Writer {
    db: Arc<Db>,
}

impl Writer {
    /// Starts the writer of `db`; appends are sent to it on the returned channel.
    pub(crate) fn spawn(db: Arc<Db>) -> mpsc::UnboundedSender<PendingAppend> {
        let (appends, pending) = mpsc::unbounded_channel();
        tokio::spawn(Writer { db }.run(pending));
        appends
    }

    /// One call in flight at a time (the store-wide lock would serialize them anyway); the
    /// appends that arrive meanwhile go into the next call together.
    async fn run(self, mut pending: mpsc::UnboundedReceiver<PendingAppend>) {
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
                append.answer(result);
            } else if self.db.can_insert() && batch.iter().all(|append| at_version(append.expected).is_some()) {
                self.append_many_at_versions(batch).await;
            } else {
                self.append_many(batch).await;
            }
        }
    }

    async fn append_one(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendOutcome, StoreError> {
        match at_version(expected).filter(|_| self.db.can_insert()) {
            Some(version) => self.append_at_version(stream_id, expected, version, events).await,
            None => self.append_through_function(stream_id, expected, events).await,
        }
    }
}

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
            self.metadata.push(encode_metadata(&event.metadata)?);
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

/// After an append was refused (a version taken, an id stored): the earlier append it repeats
/// exactly, if it does; `None` if none of its ids is stored; [`StoreError::DuplicateEvent`]
/// if only some are, or elsewhere.
async fn earlier_append(
    client: &impl GenericClient,
    stream_id: &str,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let ids: Vec<Uuid> = events.iter().map(|event| event.id).collect();
    match client.query_opt("SELECT * FROM eventsmith_earlier_append($1, $2)", &[&stream_id, &ids]).await {
        Ok(row) => Ok(row.map(|row| outcome_of(&row, 0))),
        Err(error) => match state_and_detail(&error) {
            (Some(DUPLICATE_ID), detail) => Err(duplicate(stream_id, events, detail.as_deref())),
            _ => Err(backend("append", error)),
        },
    }
}

/// The stream's version now.
async fn current_version(client: &impl GenericClient, stream_id: &str) -> Result<u64, StoreError> {
    let row =
        client.query_one(crate::db::CURRENT_VERSION, &[&stream_id]).await.map_err(|error| backend("append", error))?;
    Ok(to_u64(row.get(0)))
}

fn expected_columns(expected: ExpectedVersion) -> (i16, i64) {
    match expected {
        ExpectedVersion::Any => (0, 0),
        ExpectedVersion::NoStream => (1, 0),
        ExpectedVersion::StreamExists => (2, 0),
        ExpectedVersion::Exact(version) => (3, to_i64(version)),
    }
}
