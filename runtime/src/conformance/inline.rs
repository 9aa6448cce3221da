//! Inline work: a read model's work run inside an append's own transaction, where the store
//! declares it ([`Capabilities::inline`](crate::store::Capabilities::inline)).

use std::sync::{Arc, Mutex, PoisonError};

use super::{head, numbered, unique_stream};
use crate::store::sql::{InlineWork, Sql, SqlError};
use crate::store::{AppendOutcome, BoxFuture, EventStore, ExpectedVersion, NewEvent, StoreError};

/// Inline work that notes what it was given, and refuses the append when `refuse`.
#[derive(Default)]
struct Noting {
    refuse: bool,
    calls: Mutex<Vec<Call>>,
}

/// One call of [`Noting`]'s work.
struct Call {
    after: u64,
    stream_id: String,
    events: usize,
    positions: Vec<u64>,
}

impl Noting {
    fn calls(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl InlineWork for Noting {
    fn apply<'t>(
        &'t self,
        sql: &'t mut Sql<'_>,
        after: u64,
        stream_id: &'t str,
        events: &'t [NewEvent],
        outcome: &'t AppendOutcome,
    ) -> BoxFuture<'t, Result<(), SqlError>> {
        let _ = sql;
        let call =
            Call { after, stream_id: stream_id.to_owned(), events: events.len(), positions: outcome.positions.clone() };
        self.calls().push(call);
        let refuse = self.refuse;
        Box::pin(async move {
            if refuse {
                return Err(SqlError::Statement {
                    sql: "the conformance kit's inline work".into(),
                    message: "refused, as a projection refuses an event".into(),
                    code: None,
                });
            }
            Ok(())
        })
    }
}

/// Where the store declares `inline`: `append_inline` runs the work once, inside the append,
/// given the append's stream, events and positions, and the log's last position before them;
/// work that fails fails the append (a [`StoreError::Backend`]), which writes nothing. Where
/// it does not: [`StoreError::Unsupported`], and nothing written. (Fails a store that runs
/// the work after its commit, so that a refusal leaves the events in.)
pub async fn inline_work_runs_in_the_append<S: EventStore>(store: S) {
    let stream = unique_stream("inline");
    let before = head(&store).await;
    let refusing = Arc::new(Noting { refuse: true, ..Noting::default() });
    let refused = store.append_inline(&stream, ExpectedVersion::NoStream, numbered(2), refusing.clone()).await;
    if !store.capabilities().inline {
        assert!(matches!(refused, Err(StoreError::Unsupported { .. })), "{refused:?}");
        assert_eq!(head(&store).await, before, "a refused append writes nothing");
        return;
    }
    assert!(matches!(refused, Err(StoreError::Backend { .. })), "work that fails fails the append: {refused:?}");
    assert_eq!(refusing.calls().len(), 1, "the work runs once");
    assert!(store.read_stream(&stream, 1, 10).await.expect("read").is_empty(), "a refused append writes nothing");

    let noting = Arc::new(Noting::default());
    let outcome = store.append_inline(&stream, ExpectedVersion::NoStream, numbered(2), noting.clone()).await;
    let outcome = outcome.expect("an append whose inline work succeeds");
    let (after, first) = {
        let calls = noting.calls();
        assert_eq!(calls.len(), 1, "the work runs once");
        let call = &calls[0];
        assert_eq!((call.stream_id.as_str(), call.events), (stream.as_str(), 2));
        assert_eq!(call.positions, outcome.positions, "the work is given the append's positions");
        (call.after, outcome.positions[0])
    };
    // The log's last position before the append: no event between (a refused append may
    // have used positions that stay empty), and an event there unless it is 0.
    let next = store.read_all(after + 1, 1, &[]).await.expect("read the log");
    assert_eq!(
        next.first().map(|event| event.position),
        Some(first),
        "the work is given {after}: not the last position before {first}"
    );
    if after > 0 {
        let at = store.read_all(after, 1, &[]).await.expect("read the log");
        assert_eq!(
            at.first().map(|event| event.position),
            Some(after),
            "the work is given {after}, where the log has no event"
        );
    }
    assert_eq!(store.read_stream(&stream, 1, 10).await.expect("read").len(), 2);
}
