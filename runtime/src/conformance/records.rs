//! What a store keeps beside the events: checkpoints and snapshots.

use super::unique_stream;
use crate::store::{Checkpoint, EventStore, Snapshot, StoreError};

/// Checkpoints save position and state together and load them back, each under its own name,
/// the last save winning (if supported). (Fails a store that keeps one checkpoint for every
/// name, or keeps the first save.)
pub async fn checkpoints_round_trip<S: EventStore>(store: S) {
    let (name, other) = (unique_stream("projection"), unique_stream("other-projection"));
    if !store.capabilities().checkpoints {
        assert!(matches!(store.load_checkpoint(&name).await, Err(StoreError::Unsupported { .. })));
        return;
    }
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), None);
    let first = Checkpoint { position: 42, state: Some(br#"{"orders":3}"#.to_vec()) };
    store.save_checkpoint(&name, first.clone()).await.expect("save");
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), Some(first.clone()));
    assert_eq!(store.load_checkpoint(&other).await.expect("load"), None, "another name has no checkpoint yet");
    let others = Checkpoint { position: 7, state: Some(b"{}".to_vec()) };
    store.save_checkpoint(&other, others.clone()).await.expect("save");
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), Some(first), "saving another name leaves this one");
    let second = Checkpoint { position: 43, state: None };
    store.save_checkpoint(&name, second.clone()).await.expect("save");
    assert_eq!(store.load_checkpoint(&name).await.expect("load"), Some(second), "the last save wins");
    assert_eq!(store.load_checkpoint(&other).await.expect("load"), Some(others));
}

/// Snapshots load back as saved, each stream its own; a newer snapshot replaces an older one,
/// and an older one never replaces a newer one (if supported). (Fails a store that keeps the
/// first snapshot, the last one whatever its version, or one for every stream.)
pub async fn snapshots_round_trip<S: EventStore>(store: S) {
    let (stream, other) = (unique_stream("snapshotted"), unique_stream("other-snapshotted"));
    if !store.capabilities().snapshots {
        assert!(matches!(store.load_snapshot(&stream).await, Err(StoreError::Unsupported { .. })));
        return;
    }
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), None);
    let older = Snapshot { version: 100, fingerprint: "r1-abc".into(), state: b"{}".to_vec() };
    store.save_snapshot(&stream, older.clone()).await.expect("save");
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), Some(older.clone()));
    let newer = Snapshot { version: 500, fingerprint: "r1-abc".into(), state: br#"{"total":5}"#.to_vec() };
    store.save_snapshot(&stream, newer.clone()).await.expect("save");
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), Some(newer.clone()), "a newer snapshot replaces");
    store.save_snapshot(&stream, older).await.expect("save");
    assert_eq!(store.load_snapshot(&stream).await.expect("load"), Some(newer), "an older one never replaces");
    assert_eq!(store.load_snapshot(&other).await.expect("load"), None, "another stream has no snapshot");
}
