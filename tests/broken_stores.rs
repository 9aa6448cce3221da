//! The conformance kit must fail a broken store: one store here per mistake, each the memory
//! store with that one mistake, and each rejected by the behaviour written for it. A kit that
//! passed one of these would pass a store that loses, doubles or misreads events.

use std::sync::Arc;
use std::time::Duration;

use eventsmith::conformance;
use eventsmith::sql::{InlineWork, Sql, SqlConnection, SqlError, SqlRow, SqlValue};
use eventsmith::store::{
    AppendOutcome, BoxFuture, Capabilities, Checkpoint, EventStore, ExpectedVersion, FoldedLog, LogFold, MemoryStore,
    NewEvent, Snapshot, StoreError, StoredEvent, StreamAppend, StreamFold, StreamInfo,
};

/// Which one mistake the store makes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mistake {
    /// None: the memory store as it is.
    None,
    /// Checks the expected version, then appends in a second step: two writers can both pass
    /// the check.
    RacyVersionCheck,
    /// Returns each page of the log in reverse order.
    ReversedLog,
    /// Reads the log from the position after the one asked for.
    SkipsFirstPosition,
    /// Writes a large batch in commits of 1,000 events.
    SplitsBatches,
    /// Keeps the first snapshot of a stream.
    FirstSnapshotWins,
    /// Keeps one checkpoint for every name.
    NameBlindCheckpoints,
    /// Folds the log without its type filter.
    FoldIgnoresTypes,
    /// Folds a stream from the version after the one asked for.
    StreamFoldSkipsFirst,
    /// Declares notifications but never sends any.
    DeafSubscribers,
    /// Drops the namespace of every event.
    DropsNamespaces,
    /// Reports a head behind the log.
    StaleHead,
    /// Says that every append directly follows any other.
    AlwaysFollows,
    /// Returns a commit time from its append that is not the one it stores.
    OutcomeTimeDiffers,
    /// Appends to several streams go on after a refused one.
    StreamsGoOnAfterARefusal,
    /// Lists streams from the `after` of a page, not after it.
    StreamPagesRepeatTheirStart,
    /// Declares inline work, and runs it after its append has committed.
    InlineAfterCommit,
}

struct Broken {
    inner: MemoryStore,
    mistake: Mistake,
    /// The one checkpoint of `NameBlindCheckpoints`.
    blind: std::sync::Mutex<Option<Checkpoint>>,
    /// For `DeafSubscribers`: a head that never moves.
    deaf: tokio::sync::watch::Sender<u64>,
}

impl Broken {
    fn new(mistake: Mistake) -> Self {
        Broken {
            inner: MemoryStore::new(),
            mistake,
            blind: std::sync::Mutex::new(None),
            deaf: tokio::sync::watch::Sender::new(0),
        }
    }

    async fn append_broken(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        mut events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        match self.mistake {
            Mistake::RacyVersionCheck => {
                let actual = self.inner.read_stream(stream_id, 1, usize::MAX).await?.len() as u64;
                if !expected.admits(actual) {
                    return Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual });
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                self.inner.append(stream_id, ExpectedVersion::Any, events).await
            }
            Mistake::SplitsBatches if events.len() > 1_000 => {
                let rest = events.split_off(1_000);
                let mut outcome = self.inner.append(stream_id, expected, events).await?;
                for chunk in rest.chunks(1_000) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let more = self.inner.append(stream_id, ExpectedVersion::Any, chunk.to_vec()).await?;
                    outcome.positions.extend(more.positions);
                }
                Ok(outcome)
            }
            Mistake::DropsNamespaces => {
                for event in &mut events {
                    event.namespace = None;
                }
                self.inner.append(stream_id, expected, events).await
            }
            Mistake::OutcomeTimeDiffers => {
                let mut outcome = self.inner.append(stream_id, expected, events).await?;
                outcome.recorded_at += Duration::from_micros(1);
                Ok(outcome)
            }
            _ => self.inner.append(stream_id, expected, events).await,
        }
    }

    async fn read_all_broken(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self.mistake {
            Mistake::ReversedLog => {
                let mut page = self.inner.read_all(from_position, max_count, types).await?;
                page.reverse();
                Ok(page)
            }
            Mistake::SkipsFirstPosition => self.inner.read_all(from_position + 1, max_count, types).await,
            _ => self.inner.read_all(from_position, max_count, types).await,
        }
    }
}

impl EventStore for Broken {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        Box::pin(self.append_broken(stream_id, expected, events))
    }

    fn streams<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StreamInfo>, StoreError>> {
        Box::pin(async move {
            let mut streams = eventsmith::store::streams_from_log(self, prefix, after, limit).await?;
            if self.mistake == Mistake::StreamPagesRepeatTheirStart
                && let Some(after) = after
            {
                let start = eventsmith::store::streams_from_log(self, after, None, 1).await?;
                streams.splice(0..0, start.into_iter().filter(|stream| stream.stream_id == after));
                streams.truncate(limit);
            }
            Ok(streams)
        })
    }

    fn append_streams(&self, appends: Vec<StreamAppend>) -> BoxFuture<'_, Vec<Result<AppendOutcome, StoreError>>> {
        if self.mistake != Mistake::StreamsGoOnAfterARefusal {
            return Box::pin(eventsmith::store::append_one_at_a_time(self, appends));
        }
        Box::pin(async move {
            let mut outcomes = Vec::new();
            for append in appends {
                outcomes.push(self.append(&append.stream_id, append.expected, append.events).await);
            }
            outcomes
        })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        self.inner.read_stream(stream_id, from_version, max_count)
    }

    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.read_all_broken(from_position, max_count, types))
    }

    fn fold_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>> {
        let skip = u64::from(self.mistake == Mistake::StreamFoldSkipsFirst);
        self.inner.fold_stream(stream_id, from_version + skip, fold)
    }

    fn fold_log<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        let types = if self.mistake == Mistake::FoldIgnoresTypes { &[][..] } else { types };
        self.inner.fold_log(from_position, max_count, types, fold)
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let head = self.inner.head().await?;
            Ok(if self.mistake == Mistake::StaleHead { head.saturating_sub(1) } else { head })
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { inline: self.mistake == Mistake::InlineAfterCommit, ..self.inner.capabilities() }
    }

    fn append_inline<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        inline: Arc<dyn InlineWork>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        if self.mistake != Mistake::InlineAfterCommit {
            return self.inner.append_inline(stream_id, expected, events, inline);
        }
        Box::pin(async move {
            let outcome = self.inner.append(stream_id, expected, events.clone()).await?;
            let mut connection = Refusing;
            let mut sql = Sql::new(&mut connection);
            let after = outcome.positions[0] - 1;
            inline
                .apply(&mut sql, after, stream_id, &events, &outcome)
                .await
                .map_err(|error| StoreError::backend("append", false, error))?;
            Ok(outcome)
        })
    }

    fn follows_directly(&self, last: u64, first: u64) -> bool {
        self.mistake == Mistake::AlwaysFollows || self.inner.follows_directly(last, first)
    }

    fn load_checkpoint<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        if self.mistake == Mistake::NameBlindCheckpoints {
            return Box::pin(async move { Ok(self.blind.lock().unwrap().clone()) });
        }
        self.inner.load_checkpoint(name)
    }

    fn save_checkpoint<'a>(&'a self, name: &'a str, checkpoint: Checkpoint) -> BoxFuture<'a, Result<(), StoreError>> {
        if self.mistake == Mistake::NameBlindCheckpoints {
            *self.blind.lock().unwrap() = Some(checkpoint);
            return Box::pin(async { Ok(()) });
        }
        self.inner.save_checkpoint(name, checkpoint)
    }

    fn subscribe(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        if self.mistake == Mistake::DeafSubscribers { Some(self.deaf.subscribe()) } else { self.inner.subscribe() }
    }

    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        self.inner.load_snapshot(stream_id)
    }

    fn save_snapshot<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.mistake == Mistake::FirstSnapshotWins && self.inner.load_snapshot(stream_id).await?.is_some() {
                return Ok(());
            }
            self.inner.save_snapshot(stream_id, snapshot).await
        })
    }
}

/// A connection whose every statement fails: the inline work of `InlineAfterCommit` has no
/// transaction to write in.
struct Refusing;

impl SqlConnection for Refusing {
    fn execute<'a>(&'a mut self, sql: &'static str, _: Vec<SqlValue>) -> BoxFuture<'a, Result<u64, SqlError>> {
        Box::pin(
            async move { Err(SqlError::Statement { sql: sql.into(), message: "no transaction".into(), code: None }) },
        )
    }

    fn query<'a>(&'a mut self, sql: &'static str, _: Vec<SqlValue>) -> BoxFuture<'a, Result<Vec<SqlRow>, SqlError>> {
        Box::pin(
            async move { Err(SqlError::Statement { sql: sql.into(), message: "no transaction".into(), code: None }) },
        )
    }
}

/// Runs `behaviour` on the store with `mistake` and expects it to fail.
async fn rejects<F, Fut>(mistake: Mistake, behaviour: F)
where
    F: FnOnce(Broken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(behaviour(Broken::new(mistake))).await;
    assert!(
        outcome.as_ref().is_err_and(tokio::task::JoinError::is_panic),
        "the conformance kit passed a store that {mistake:?}: {outcome:?}"
    );
}

macro_rules! rejected_by {
    ($($test:ident: $mistake:ident by $behaviour:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $test() {
            rejects(Mistake::$mistake, conformance::$behaviour).await;
        }
    )*};
}

rejected_by! {
    a_racy_version_check: RacyVersionCheck by concurrent_appends_to_one_stream;
    a_log_out_of_commit_order: ReversedLog by global_order_is_commit_order;
    a_read_that_skips_the_first_position: SkipsFirstPosition by reads_from_the_middle;
    a_batch_split_across_commits: SplitsBatches by a_large_batch_is_one_append;
    first_write_wins_snapshots: FirstSnapshotWins by snapshots_round_trip;
    name_blind_checkpoints: NameBlindCheckpoints by checkpoints_round_trip;
    a_log_fold_that_ignores_the_type_filter: FoldIgnoresTypes by folding_the_log_sees_what_reading_it_returns;
    a_stream_fold_that_skips_an_event: StreamFoldSkipsFirst by folding_a_stream_sees_what_reading_it_returns;
    notifications_that_never_come: DeafSubscribers by subscribers_hear_of_appends;
    dropped_namespaces: DropsNamespaces by append_and_read_back_byte_identical;
    a_stale_head: StaleHead by the_head_is_the_last_position;
    appends_that_claim_to_follow_any_other: AlwaysFollows by appends_say_which_follows_directly;
    an_outcome_with_another_commit_time: OutcomeTimeDiffers by append_and_read_back_byte_identical;
    appends_to_streams_past_a_refusal: StreamsGoOnAfterARefusal by appends_to_several_streams_go_in_order;
    stream_pages_that_repeat_their_start: StreamPagesRepeatTheirStart by streams_are_listed_by_prefix_in_byte_order;
    inline_work_after_the_commit: InlineAfterCommit by inline_work_runs_in_the_append;
}

/// The store with no mistake passes every one of those behaviours: the failures above are
/// the mistakes', not the wrapper's.
mod unbroken {
    eventsmith::conformance_suite!(super::Broken::new(super::Mistake::None));
}
