//! The runtime half of eventsmith: the traits the macros implement, the `Recorded` envelope,
//! the [`App`] engine that executes commands, and the event stores.
//!
//! Most users depend on the `eventsmith` facade crate, which re-exports this crate together
//! with the derive and attribute macros.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
pub mod app;
pub mod command;
pub mod error;
pub mod event;
pub mod projection;
pub mod recorded;
mod runner;
pub mod store;
pub mod testing;
#[cfg(feature = "testkit")]
pub mod testkit;

#[doc(hidden)]
pub mod __private;

pub use aggregate::{Aggregate, Apply, Fold, Handle};
pub use app::{App, AppBuilder, Committed, Loaded};
pub use command::{Command, CommandEnvelope, CommandFor, Dispatched, ExpectStream};
pub use error::{CorruptEvent, DecodeError, EncodeError, Error, ExecuteError, Rejection, Result};
pub use event::{Event, EventSchema, EventSchemas, EventType, Produces, VariantOf};
pub use projection::{ApplyError, Projection, Query, QueryEnvelope};
pub use recorded::{Metadata, Recorded};
pub use runner::ProjectionStopped;
#[cfg(feature = "nats")]
pub use store::NatsStore;
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{
    AppendOutcome, Capabilities, Checkpoint, EventStore, ExpectedVersion, LogEvent, MemoryStore, NewEvent, Snapshot,
    StoreError, StoredEvent,
};
