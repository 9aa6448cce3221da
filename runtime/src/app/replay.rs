//! Loading an aggregate: its latest usable snapshot, then the replay fold over the events
//! after it, run by the store as it reads the stream; and taking snapshots after commits.

use super::App;
use crate::aggregate::Aggregate;
use crate::decode::CorruptEvent;
use crate::error::{Error, ExecuteError};
use crate::event::Event;
use crate::store::{EventStoreExt, RawEvent, Snapshot, StoreError, StreamFold};

impl App {
    /// The aggregate's state and version as stored.
    pub(super) async fn load_stream<A: Aggregate>(&self, stream_id: &str) -> Result<(A, u64), LoadError> {
        if let Some((state, version)) = self.load_snapshot::<A>(stream_id).await {
            // The fold starts at the snapshot's own event, which must exist: a store restored
            // from an older copy may hold a snapshot past the end of the stream.
            let replay =
                self.replay(stream_id, Replay { state, version, corrupt: None, anchor: Some(version) }).await?;
            if replay.anchor.is_none() {
                return Ok((replay.state, replay.version));
            }
            tracing::warn!(stream = stream_id, version, "snapshot ignored: it is past the end of the stream");
        }
        let replay =
            self.replay(stream_id, Replay { state: A::initial(), version: 0, corrupt: None, anchor: None }).await?;
        Ok((replay.state, replay.version))
    }

    /// Folds the stream into `replay` from its version on (from its anchor, when it has one).
    async fn replay<A: Aggregate>(&self, stream_id: &str, replay: Replay<A>) -> Result<Replay<A>, LoadError> {
        let from = replay.anchor.unwrap_or(replay.version + 1);
        let replay = self.inner.store.fold_stream_into(stream_id, from, replay).await?;
        match replay.corrupt {
            Some(mut corrupt) => {
                if corrupt.position == 0 {
                    let at = self.inner.store.read_stream(stream_id, corrupt.stream_version, 1).await?;
                    corrupt.position = at.first().map_or(0, |event| event.position);
                }
                Err(corrupt.into())
            }
            None => Ok(replay),
        }
    }

    /// The latest usable snapshot of the stream: one written for the state's current shape,
    /// that decodes, and whose version the stream has. Any other is ignored (and the reason
    /// logged), and the state is rebuilt from the events.
    async fn load_snapshot<A: Aggregate>(&self, stream_id: &str) -> Option<(A, u64)> {
        if A::SNAPSHOT_EVERY == 0 || !self.inner.store.capabilities().snapshots {
            return None;
        }
        let snapshot = match self.inner.store.load_snapshot(stream_id).await {
            Ok(snapshot) => snapshot?,
            Err(error) => {
                tracing::warn!(stream = stream_id, %error, "snapshot not loaded; replaying the stream");
                return None;
            }
        };
        let fingerprint = A::snapshot_fingerprint();
        if snapshot.fingerprint != fingerprint {
            tracing::info!(
                stream = stream_id,
                stored = %snapshot.fingerprint,
                current = %fingerprint,
                "snapshot ignored: the state's shape or snapshot revision changed; replaying the stream"
            );
            return None;
        }
        let state = match A::decode_snapshot(&snapshot.state)? {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(stream = stream_id, %error, "snapshot ignored: it does not decode; replaying the stream");
                return None;
            }
        };
        Some((state, snapshot.version))
    }

    /// Stores a snapshot when a commit crossed a multiple of `SNAPSHOT_EVERY`. A failure is
    /// logged, not returned: the command is committed either way.
    pub(super) async fn maybe_snapshot<A: Aggregate>(&self, stream_id: &str, state: &A, before: u64, after: u64) {
        let every = A::SNAPSHOT_EVERY;
        if every == 0 || before / every == after / every || !self.inner.store.capabilities().snapshots {
            return;
        }
        let Some(encoded) = state.encode_snapshot() else { return };
        let snapshot = match encoded {
            Ok(bytes) => Snapshot { version: after, fingerprint: A::snapshot_fingerprint(), state: bytes },
            Err(error) => {
                tracing::warn!(stream = stream_id, %error, "snapshot not taken: the state does not serialize");
                return;
            }
        };
        if let Err(error) = self.inner.store.save_snapshot(stream_id, snapshot).await {
            tracing::warn!(stream = stream_id, %error, "snapshot not saved");
        }
    }
}

/// The replay fold, run by the store as it reads the stream: decodes each payload in place
/// and applies it, stopping at the first event that does not decode.
struct Replay<A> {
    state: A,
    version: u64,
    corrupt: Option<Box<CorruptEvent>>,
    /// The version of the snapshot the state was restored from, until the fold has seen
    /// that event (which it skips: the state already holds it).
    anchor: Option<u64>,
}

impl<A: Aggregate> StreamFold for Replay<A> {
    fn fold(&mut self, event: RawEvent<'_>) -> bool {
        if let Some(anchor) = self.anchor {
            if event.stream_version != anchor {
                return false;
            }
            self.anchor = None;
            return true;
        }
        match A::Event::decode(event.event_type, event.event_version, event.payload) {
            Ok(decoded) => {
                self.state.apply(&decoded);
                self.version = event.stream_version;
                true
            }
            Err(source) => {
                self.corrupt = Some(Box::new(CorruptEvent {
                    stream_id: event.stream_id.to_owned(),
                    stream_version: event.stream_version,
                    position: event.position,
                    event_type: event.event_type.to_owned(),
                    event_version: event.event_version,
                    source,
                }));
                false
            }
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

pub(super) enum LoadError {
    Corrupt(Box<CorruptEvent>),
    Store(StoreError),
}

impl From<Box<CorruptEvent>> for LoadError {
    fn from(error: Box<CorruptEvent>) -> Self {
        Self::Corrupt(error)
    }
}

impl From<StoreError> for LoadError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl<E> From<LoadError> for ExecuteError<E> {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Corrupt(e) => Self::Corrupt(e),
            LoadError::Store(e) => Self::Store(e),
        }
    }
}

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Corrupt(e) => Self::Corrupt(e),
            LoadError::Store(e) => Self::Store(e),
        }
    }
}
