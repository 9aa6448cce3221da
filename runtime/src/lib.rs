//! The runtime half of eventsmith: the traits the macros implement, the `Recorded` envelope,
//! the [`App`] engine that executes commands and runs projections, the store contract with
//! the memory store, and the test kits.
//!
//! Most users depend on the `eventsmith` facade crate, which re-exports this crate together
//! with the derive and attribute macros and the stores of its features.
//!
//! The modules are layered, each using only those above it:
//!
//! | layer | modules |
//! |---|---|
//! | events | [`id`], [`time`], [`codec`], [`event`], [`schema`], [`recorded`] |
//! | the store contract | [`store`], [`decode`] |
//! | what the macros say of a domain's parts | [`described`] |
//! | the domain's traits | [`aggregate`], [`command`], [`projection`], [`documents`] |
//! | the domain's description | [`catalog`] |
//! | the engine | [`app`] (with its errors, re-exported as [`error`]) |
//! | the dynamic envelopes | [`envelope`] |
//! | tests | [`testing`] (the events a given/when/then test starts from; the kit is `eventsmith::testing`), [`conformance`] (for stores) |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
pub mod app;
pub mod catalog;
pub mod codec;
pub mod command;
#[cfg(feature = "testkit")]
pub mod conformance;
pub mod decode;
pub mod described;
pub mod documents;
pub mod envelope;
pub mod event;
pub mod id;
pub mod projection;
pub mod recorded;
pub mod schema;
pub mod sql;
pub mod store;
pub mod testing;
pub mod time;

/// Every error type, in one place.
pub mod error {
    pub use crate::app::error::{Error, ExecuteError, Rejection, Result};
    pub use crate::app::runner::ProjectionStopped;
    pub use crate::codec::{DecodeError, EncodeError};
    pub use crate::decode::CorruptEvent;
    pub use crate::documents::DocumentError;
    pub use crate::projection::ApplyError;
    pub use crate::store::StoreError;
}

/// The store conformance kit, under its former name.
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub use conformance as testkit;

#[doc(hidden)]
pub mod __private;

// The root holds what a domain and an application use; what the macros implement for them
// (`Apply`, `Handle`, `VariantOf`, ...) and what a store implements stay in their modules.
pub use aggregate::Aggregate;
pub use app::{Answer, App, AppBuilder, Committed, Execution, Loaded, ProjectionStatus, Verification, VerifiedType};
pub use command::Command;
pub use envelope::{CommandEnvelope, Dispatched, DispatchedEvent, Envelope, QueryEnvelope};
pub use error::{
    ApplyError, CorruptEvent, DecodeError, EncodeError, Error, ExecuteError, ProjectionStopped, Rejection, Result,
    StoreError,
};
pub use event::Event;
pub use projection::{Projection, Query};
pub use recorded::{Metadata, Recorded};
pub use store::{EventStore, ExpectedVersion, MemoryStore};
