//! The [`EventStore`] trait: what a store must do (three operations) and what it may do
//! better than the defaults built on them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;

use super::sql::InlineWork;
use super::{
    AppendOutcome, Capabilities, Checkpoint, ExpectedVersion, FoldedLog, LogFold, LogFolded, NewEvent, Snapshot,
    StoreError, StoredEvent, StreamAppend, StreamFold, StreamInfo,
};

/// [`EventStore::append_streams`] as separate appends, one after the other: its default, and
/// what a store that commits them together does when it cannot.
pub async fn append_one_at_a_time<S: EventStore + ?Sized>(
    store: &S,
    appends: Vec<StreamAppend>,
) -> Vec<Result<AppendOutcome, StoreError>> {
    let mut outcomes = Vec::with_capacity(appends.len());
    for append in appends {
        let outcome = store.append(&append.stream_id, append.expected, append.events).await;
        let failed = outcome.is_err();
        outcomes.push(outcome);
        if failed {
            break;
        }
    }
    outcomes
}

/// [`EventStore::streams`] from a read of the whole log, keeping only the first `limit`
/// streams it finds: the default for stores without an index of their streams.
///
/// # Errors
/// A read of the log that fails.
pub async fn streams_from_log<S: EventStore + ?Sized>(
    store: &S,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StreamInfo>, StoreError> {
    let mut found: std::collections::BTreeMap<String, StreamInfo> = std::collections::BTreeMap::new();
    let mut next = 1;
    loop {
        let page = store.read_all(next, 1000, &[]).await?;
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        for event in page {
            let wanted =
                event.stream_id.starts_with(prefix) && after.is_none_or(|after| event.stream_id.as_str() > after);
            if !wanted {
                continue;
            }
            if let Some(stream) = found.get_mut(&event.stream_id) {
                (stream.version, stream.last_recorded_at) = (event.stream_version, event.recorded_at);
                continue;
            }
            let past_the_last =
                found.len() >= limit && found.last_key_value().is_some_and(|(last, _)| event.stream_id > *last);
            if past_the_last {
                continue;
            }
            let info = StreamInfo {
                stream_id: event.stream_id.clone(),
                version: event.stream_version,
                last_recorded_at: event.recorded_at,
            };
            found.insert(event.stream_id, info);
            if found.len() > limit {
                found.pop_last();
            }
        }
    }
    Ok(found.into_values().collect())
}

/// The first string after every string that starts with `prefix` (its last character
/// moved to the next), for a range scan of a prefix; `None` for the empty prefix, or when
/// no such character exists.
#[must_use]
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A future returned by an [`EventStore`]: boxed, so that the trait is object-safe and an
/// [`App`](crate::App) can hold any store chosen at run time as `Arc<dyn EventStore>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An append-only store of event streams with a global log: the seed's `writeEvents` and
/// `getEvents`.
///
/// A store keeps streams of events, each event at a stream version (1, 2, ...) and at a
/// position in one global log that readers see in commit order.
///
/// Three operations are required ([`append`](Self::append), [`read_stream`](Self::read_stream)
/// and [`read_all`](Self::read_all)); the others have defaults built on them, which a store
/// overrides where it can do better, and optional capabilities that a store declares in
/// [`capabilities`](Self::capabilities). The trait is object-safe: calls through
/// `dyn EventStore` reach the store's own overrides, so there is no forwarding layer that
/// could miss one. An implementation returns its futures boxed:
///
/// ```
/// use eventsmith::store::{BoxFuture, EventStore, ExpectedVersion, MemoryStore, NewEvent};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let event = NewEvent::new("OrderCreated", 1, br#"{"order_id":"42"}"#.to_vec());
/// store.append("Order-42", ExpectedVersion::NoStream, vec![event]).await.unwrap();
/// let events = store.read_stream("Order-42", 1, 100).await.unwrap();
/// assert_eq!(events[0].stream_version, 1);
/// assert_eq!(events[0].payload, br#"{"order_id":"42"}"#);
/// # });
/// ```
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically, if the stream satisfies `expected`.
    ///
    /// An append whose event ids are all already stored in that stream, in that order, is
    /// acknowledged with the original outcome and `already_stored` set, writing nothing.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when `expected` does not hold; [`StoreError::EmptyAppend`];
    /// [`StoreError::DuplicateEvent`] for a partial retry; [`StoreError::Backend`].
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>>;

    /// Appends to several streams, in order, as [`append`](Self::append) one after the other
    /// would (a later append to a stream sees the earlier ones), until one fails: returns
    /// the outcome of each append tried, the last one an error if one failed, after which
    /// none is tried. The appends that succeeded are committed. Stores commit them together
    /// where they can (SQLite and PostgreSQL: one transaction for all), which makes writing
    /// many small streams at once (an import) as fast as one large append; the others append
    /// one at a time.
    fn append_streams(&self, appends: Vec<StreamAppend>) -> BoxFuture<'_, Vec<Result<AppendOutcome, StoreError>>> {
        Box::pin(append_one_at_a_time(self, appends))
    }

    /// The streams whose ids start with `prefix`, in the byte order of their ids, from the
    /// first after `after` (`None`: from the first), at most `limit`: to page through them,
    /// pass the last id of a page as the next page's `after`.
    ///
    /// The default reads the whole log ([`streams_from_log`]); SQLite and PostgreSQL read
    /// their table.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn streams<'a>(
        &'a self,
        prefix: &'a str,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StreamInfo>, StoreError>> {
        Box::pin(streams_from_log(self, prefix, after, limit))
    }

    /// Reads up to `max_count` events of `stream_id` from stream version `from_version` on.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        max_count: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>>;

    /// Reads up to `max_count` events of the global log from `from_position` on, in commit
    /// order, keeping only the given event types when `types` is not empty (by type name, in
    /// any namespace: readers that want one enum's events check the namespace too).
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn read_all<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>>;

    /// Feeds the events of `stream_id` from `from_version` on to `fold`, in order, until the
    /// stream ends or `fold` stops, and gives `fold` back. The default reads pages with
    /// [`read_stream`](Self::read_stream); a store may override it to fold without copies.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn fold_stream<'a>(
        &'a self,
        stream_id: &'a str,
        from_version: u64,
        mut fold: Box<dyn StreamFold>,
    ) -> BoxFuture<'a, Result<Box<dyn StreamFold>, StoreError>> {
        Box::pin(async move {
            const PAGE: usize = 1024;
            let mut next = from_version;
            loop {
                let page = self.read_stream(stream_id, next, PAGE).await?;
                for stored in &page {
                    next = stored.stream_version + 1;
                    if !fold.fold(stored.as_raw()) {
                        return Ok(fold);
                    }
                }
                if page.len() < PAGE {
                    return Ok(fold);
                }
            }
        })
    }

    /// Feeds up to `max_count` events of the global log from `from_position` on to `fold`,
    /// in commit order, keeping only the given event types when `types` is not empty, until
    /// the log ends or `fold` stops; gives `fold` back with how many events it took. The
    /// default reads [`read_all`](Self::read_all); a store may override it to fold without
    /// copies.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn fold_log<'a>(
        &'a self,
        from_position: u64,
        max_count: usize,
        types: &'a [&'a str],
        mut fold: Box<dyn LogFold>,
    ) -> BoxFuture<'a, Result<FoldedLog, StoreError>> {
        Box::pin(async move {
            let events = self.read_all(from_position, max_count, types).await?;
            let mut folded = LogFolded { folded: 0, stopped: false };
            for event in &events {
                folded.folded += 1;
                if !fold.fold(event.as_log()) {
                    folded.stopped = true;
                    break;
                }
            }
            Ok((fold, folded))
        })
    }

    /// The position of the last event of the global log, 0 when it is empty. The default
    /// reads the whole log; a store overrides it with a lookup.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn head(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            const PAGE: usize = 4096;
            let mut head = 0;
            loop {
                let page = self.read_all(head + 1, PAGE, &[]).await?;
                match page.last() {
                    Some(last) => head = last.position,
                    None => return Ok(head),
                }
            }
        })
    }

    /// Whether an append whose first event is at position `first` directly follows the
    /// append whose last event is at `last`: no other event lies between them. A process that
    /// has applied the log up to `last` then applies what its own append returned without
    /// reading the log. The default is for positions that number the log's events one by one
    /// (`first == last + 1`); a store that numbers them otherwise says how.
    fn follows_directly(&self, last: u64, first: u64) -> bool {
        last.checked_add(1) == Some(first)
    }

    /// Appends as [`append`](Self::append) does, and runs `inline` inside the append's own
    /// transaction after writing the events (not for an exact retry of an earlier append,
    /// which writes nothing): an error of `inline` rolls the whole append back. For stores
    /// that keep their events in a SQL database ([`database_identity`](Self::database_identity)).
    ///
    /// # Errors
    /// As [`append`](Self::append), `inline`'s error as a [`StoreError::Backend`] (retryable
    /// when the database failed), and [`StoreError::Unsupported`] by default and from a
    /// store that does not declare [`Capabilities::inline`].
    fn append_inline<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        inline: Arc<dyn InlineWork>,
    ) -> BoxFuture<'a, Result<AppendOutcome, StoreError>> {
        let _ = (stream_id, expected, events, inline);
        Box::pin(async { Err(StoreError::Unsupported { capability: "inline projections" }) })
    }

    /// Which SQL database the events are in (`None` for a store that is not one), compared
    /// with a read-model database's to run projections inline: equal when both are the same
    /// database.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    fn database_identity(&self) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async { Ok(None) })
    }

    /// The optional capabilities this store has. None unless the store says otherwise.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Loads the checkpoint saved under `name`.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::checkpoints`].
    fn load_checkpoint<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>, StoreError>> {
        let _ = name;
        Box::pin(async { Err(StoreError::Unsupported { capability: "checkpoints" }) })
    }

    /// Saves `checkpoint` under `name`, position and state in one atomic write.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::checkpoints`].
    fn save_checkpoint<'a>(&'a self, name: &'a str, checkpoint: Checkpoint) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (name, checkpoint);
        Box::pin(async { Err(StoreError::Unsupported { capability: "checkpoints" }) })
    }

    /// A receiver of the global log's head position, updated after every append (this
    /// process's, and other processes' where the store is told of them), if the store
    /// declares [`Capabilities::notifications`].
    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    /// Loads the latest snapshot of `stream_id`.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::snapshots`].
    fn load_snapshot<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, StoreError>> {
        let _ = stream_id;
        Box::pin(async { Err(StoreError::Unsupported { capability: "snapshots" }) })
    }

    /// Saves a snapshot of `stream_id`, replacing an older one (never a newer one).
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] unless the store declares [`Capabilities::snapshots`].
    fn save_snapshot<'a>(&'a self, stream_id: &'a str, snapshot: Snapshot) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (stream_id, snapshot);
        Box::pin(async { Err(StoreError::Unsupported { capability: "snapshots" }) })
    }
}
