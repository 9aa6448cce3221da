//! [`EventStoreExt`]: what callers of any store repeat, once.

use std::future::Future;

use super::{EventStore, LogFold, LogFolded, StoreError, StoredEvent, StreamFold};

/// Conveniences on every [`EventStore`] (and `dyn EventStore`): folds that give back their own
/// type, and whole-stream reads.
///
/// ```
/// use eventsmith::store::{EventStore, EventStoreExt, ExpectedVersion, MemoryStore, NewEvent, RawEvent, StreamFold};
///
/// struct Count(usize);
/// impl StreamFold for Count {
///     fn fold(&mut self, _: RawEvent<'_>) -> bool {
///         self.0 += 1;
///         true
///     }
///     fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
///         self
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let events = (0..3).map(|_| NewEvent::new("Ticked", 1, b"{}".to_vec())).collect();
/// store.append("Clock-1", ExpectedVersion::NoStream, events).await.unwrap();
/// let Count(count) = store.fold_stream_into("Clock-1", 1, Count(0)).await.unwrap();
/// assert_eq!(count, 3);
/// assert_eq!(store.read_whole_stream("Clock-1").await.unwrap().len(), 3);
/// # });
/// ```
pub trait EventStoreExt: EventStore {
    /// [`fold_stream`](EventStore::fold_stream) with a fold of type `F`, given back as `F`.
    ///
    /// # Errors
    /// As `fold_stream`, or a store that gave back another fold than it was given.
    fn fold_stream_into<F: StreamFold>(
        &self,
        stream_id: &str,
        from_version: u64,
        fold: F,
    ) -> impl Future<Output = Result<F, StoreError>> + Send {
        async move {
            let fold = self.fold_stream(stream_id, from_version, Box::new(fold)).await?;
            fold.into_any().downcast::<F>().map(|fold| *fold).map_err(|_| wrong_fold("fold a stream"))
        }
    }

    /// [`fold_log`](EventStore::fold_log) with a fold of type `F`, given back as `F` with where
    /// the fold ended.
    ///
    /// # Errors
    /// As `fold_log`, or a store that gave back another fold than it was given.
    fn fold_log_into<F: LogFold>(
        &self,
        from_position: u64,
        max_count: usize,
        types: &[&str],
        fold: F,
    ) -> impl Future<Output = Result<(F, LogFolded), StoreError>> + Send {
        async move {
            let (fold, folded) = self.fold_log(from_position, max_count, types, Box::new(fold)).await?;
            let fold = fold.into_any().downcast::<F>().map_err(|_| wrong_fold("fold the log"))?;
            Ok((*fold, folded))
        }
    }

    /// Every event of `stream_id`, in order.
    ///
    /// # Errors
    /// As [`read_stream`](EventStore::read_stream).
    fn read_whole_stream(&self, stream_id: &str) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        async move {
            const PAGE: usize = 1024;
            let mut events: Vec<StoredEvent> = Vec::new();
            loop {
                let page = self.read_stream(stream_id, events.len() as u64 + 1, PAGE).await?;
                let full = page.len() == PAGE;
                events.extend(page);
                if !full {
                    return Ok(events);
                }
            }
        }
    }
}

impl<S: EventStore + ?Sized> EventStoreExt for S {}

fn wrong_fold(operation: &'static str) -> StoreError {
    StoreError::backend(operation, false, "the store gave back another fold than it was given")
}
