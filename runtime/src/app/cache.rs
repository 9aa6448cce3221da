//! The app's cache of recently used aggregates.

use super::Aggregate;

/// Aggregates cached unless [`AppBuilder::aggregate_cache`](super::AppBuilder::aggregate_cache) says otherwise.
pub(super) const DEFAULT_CACHED_AGGREGATES: usize = 4096;

/// The states of recently used aggregates with their versions, so that a command on a warm
/// aggregate costs only its append. A cached version is the append's expected version, so a
/// stream moved on by anyone else fails the append with a conflict, and the retry loads it.
pub(super) struct AggregateCache {
    capacity: usize,
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedState>>,
}

struct CachedState {
    version: u64,
    state: Box<dyn std::any::Any + Send + Sync>,
}

impl AggregateCache {
    pub(super) fn new(capacity: usize) -> Self {
        AggregateCache { capacity, entries: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }

    /// Takes the stream's cached state out, if there is one of type `A`.
    pub(super) fn take<A: Aggregate>(&self, stream_id: &str) -> Option<(A, u64)> {
        if self.capacity == 0 {
            return None;
        }
        let entry = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(stream_id)?;
        let state = entry.state.downcast::<A>().ok()?;
        Some((*state, entry.version))
    }

    /// Caches `state` at `version`; when full, another entry makes room (any one: the cache
    /// only saves loads, it never decides anything).
    pub(super) fn put<A: Aggregate>(&self, stream_id: &str, state: A, version: u64) {
        // A stream with no events is not cached: "not found" is never decided from the cache.
        if self.capacity == 0 || version == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(stream_id) {
            let evicted = entries.keys().next().cloned();
            if let Some(evicted) = evicted {
                entries.remove(&evicted);
            }
        }
        entries.insert(stream_id.to_owned(), CachedState { version, state: Box::new(state) });
    }
}
