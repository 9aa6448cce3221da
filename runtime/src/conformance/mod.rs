//! The store conformance kit: what every [`EventStore`] must do, as async test functions
//! over any store, and [`conformance_suite!`](crate::conformance_suite) to stamp out one
//! `#[tokio::test]` per behaviour, so that each failure names its behaviour.
//!
//! Every store in this repository runs the whole kit (their runs are in the facade's
//! `tests/conformance.rs`); a third-party store runs it with
//!
//! ```text
//! eventsmith::conformance_suite!(MyStore::connect("...").await.unwrap());
//! ```
//!
//! in a test file of its own crate (with `tokio` as a dev-dependency, `macros` and
//! `rt-multi-thread` features). The expression is evaluated once per test and must give a
//! fresh store; stores that share a database across tests are fine, since every behaviour
//! works on streams, checkpoints and snapshots of its own names. Optional capabilities are
//! tested where the store declares them. Each behaviour is written to fail on one kind of
//! broken store: the facade's `tests/broken_stores.rs` holds one store per mistake and checks
//! that the behaviour named for it rejects it.

mod append;
mod inline;
mod read;
mod records;

use uuid::Uuid;

use crate::store::{EventStore, NewEvent, StoredEvent};

pub use append::{
    a_conflict_writes_nothing, a_large_batch_is_one_append, a_partial_retry_is_refused, an_exact_retry_is_idempotent,
    append_and_read_back_byte_identical, appends_say_which_follows_directly, appends_to_several_streams_go_in_order,
    concurrent_appends_to_one_stream, empty_appends_are_rejected, expected_version_any, expected_version_exact,
    expected_version_no_stream, expected_version_stream_exists,
};
pub use inline::inline_work_runs_in_the_append;
pub use read::{
    a_concurrent_reader_never_skips, folding_a_stream_sees_what_reading_it_returns,
    folding_the_log_sees_what_reading_it_returns, global_order_is_commit_order,
    hostile_identifiers_are_kept_exactly_or_refused, missing_streams_read_empty, reads_filter_by_type,
    reads_from_the_middle, streams_are_listed_by_prefix_in_byte_order, subscribers_hear_of_appends,
    the_head_is_the_last_position,
};
pub use records::{checkpoints_round_trip, snapshots_round_trip};

#[doc(hidden)]
pub use tokio;

/// Stamps out one `#[tokio::test]` per behaviour of the kit, each on a fresh store from
/// `$factory` (an expression, evaluated inside the async test; it may `.await`).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::conformance_suite!(@tests $factory;
            append_and_read_back_byte_identical,
            expected_version_any,
            expected_version_no_stream,
            expected_version_stream_exists,
            expected_version_exact,
            a_conflict_writes_nothing,
            empty_appends_are_rejected,
            concurrent_appends_to_one_stream,
            global_order_is_commit_order,
            a_concurrent_reader_never_skips,
            an_exact_retry_is_idempotent,
            a_partial_retry_is_refused,
            reads_from_the_middle,
            reads_filter_by_type,
            hostile_identifiers_are_kept_exactly_or_refused,
            folding_the_log_sees_what_reading_it_returns,
            folding_a_stream_sees_what_reading_it_returns,
            a_large_batch_is_one_append,
            appends_to_several_streams_go_in_order,
            appends_say_which_follows_directly,
            missing_streams_read_empty,
            streams_are_listed_by_prefix_in_byte_order,
            the_head_is_the_last_position,
            subscribers_hear_of_appends,
            checkpoints_round_trip,
            snapshots_round_trip,
            inline_work_runs_in_the_append,
        );
    };
    (@tests $factory:expr; $($behaviour:ident),* $(,)?) => {$(
        #[$crate::conformance::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $behaviour() {
            let store = $factory;
            $crate::conformance::$behaviour(store).await;
        }
    )*};
}

/// A new event with a fresh id, at version 1, without a namespace.
#[must_use]
pub fn event(event_type: &str, payload: &str) -> NewEvent {
    NewEvent::new(event_type.to_owned(), 1, payload.as_bytes().to_vec())
}

fn numbered(count: usize) -> Vec<NewEvent> {
    (0..count).map(|index| event("Numbered", &format!(r#"{{"n":{index}}}"#))).collect()
}

fn unique_stream(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::now_v7().simple())
}

/// The last position of the log, read by paging through it (not `EventStore::head`, which one
/// behaviour checks against this).
async fn head<S: EventStore + ?Sized>(store: &S) -> u64 {
    let mut position = 0;
    loop {
        let page = store.read_all(position + 1, 10_000, &[]).await.expect("read the log");
        match page.last() {
            Some(last) => position = last.position,
            None => return position,
        }
    }
}

async fn whole_log<S: EventStore + ?Sized>(store: &S, from: u64) -> Vec<StoredEvent> {
    let mut events: Vec<StoredEvent> = Vec::new();
    loop {
        let next = events.last().map_or(from, |last| last.position + 1);
        let page = store.read_all(next, 1_000, &[]).await.expect("read the log");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}
