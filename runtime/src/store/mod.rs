//! The store contract: the [`EventStore`] trait (the seed's `writeEvents` and `getEvents`),
//! the events it takes and gives back, its errors, the folds it runs, and the parts a store
//! implementation shares ([`Head`], [`batch`]). [`MemoryStore`] is here; SQLite, PostgreSQL
//! and NATS JetStream stores are crates of their own, built on this module alone.
//!
//! A store keeps streams of events, each event at a stream version (1, 2, ...) and at a
//! position in one global log that readers see in commit order.

pub mod batch;
mod contract;
mod error;
mod event;
mod expected;
mod ext;
mod fold;
mod head;
mod memory;
mod records;
pub mod sql;

pub use contract::{BoxFuture, EventStore, append_one_at_a_time, prefix_end, streams_from_log};
pub use error::StoreError;
pub use event::{LogEvent, NewEvent, RawEvent, StoredEvent};
pub use expected::{AppendOutcome, ExpectedVersion, StreamAppend};
pub use ext::EventStoreExt;
pub use fold::{FoldedLog, LogFold, LogFolded, StreamFold};
pub use head::Head;
pub use memory::MemoryStore;
pub use records::{Capabilities, Checkpoint, Snapshot, StreamInfo};
