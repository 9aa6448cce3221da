//! What generated code needs, under stable absolute paths (`::eventsmith::__private::...`).
//! Not a public API: everything here is either public elsewhere or hidden there.

pub use core;
pub use schemars;
pub use serde;
pub use serde_json;
pub use std::boxed::Box;
pub use std::string::String;
pub use std::sync::OnceLock;
pub use std::vec::Vec;

pub use crate::aggregate::{
    Aggregate, AppliedBy, Applies, AppliesUnit, Apply, CloneIfClone, Handle, HandlerError, InitialState, MaybeClone,
    NotClone, SnapshotState, one,
};
pub use crate::app::runner::ProjectionStopped;
pub use crate::app::{App, StoredProjection, sql_reached, sql_stopped};
pub use crate::catalog::{MaybeSchemas, NoSchemas, SchemasIfAny, TypeHistory};
pub use crate::codec::{
    DecodeError, EncodeError, OlderVersion, Payload, UpcastStep, UpcastVia, decode_unit, unit_payload, unknown_type,
    unknown_version,
};
pub use crate::command::{AggregateId, ClonedCommand, Command, CommandFor, ExpectStream, RoutedTo};
pub use crate::described::{CommandEntry, QueryEntry};
pub use crate::documents::{
    DocumentError, DocumentKey, DocumentProjection, DocumentQuery, Documents, Routed, default_key, route_member,
};
pub use crate::envelope::{CommandEnvelope, Dispatched, Envelope, JsonAnswer, QueryEnvelope, decode_message};
pub use crate::error::Error;
pub use crate::event::{Event, EventType, NotDeprecated, Produces, VariantOf};
pub use crate::projection::{
    ApplyError, ApplyOutcome, Idx, InitialModel, Member, NoOverlap, OneEnum, Overlap, Pair, PersistedModel, Projection,
    Query, StoredAs, apply_member, unit_recorded,
};
pub use crate::recorded::Recorded;
pub use crate::schema::{EventSchema, EventSchemas, HasSchema, unit_schema};
pub use crate::sql::{Sql, SqlApply, SqlError, SqlProjection, SqlQuery, route_sql_member};
pub use crate::store::BoxFuture;
pub use crate::store::{LogEvent, StoredEvent};

/// Stands in for the event and error types of an aggregate whose `#[aggregate(...)]` has
/// errors, so that the compiler reports those errors and not their consequences.
#[derive(Debug)]
pub enum Unknown {}

impl std::fmt::Display for Unknown {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Unknown {}

impl Event for Unknown {
    const NAMESPACE: &'static str = "";
    const TYPES: &'static [EventType] = &[];

    fn event_type(&self) -> &'static str {
        match *self {}
    }

    fn event_version(&self) -> u32 {
        match *self {}
    }

    fn variant_index(&self) -> usize {
        match *self {}
    }

    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match *self {}
    }

    fn decode(event_type: &str, _: u32, _: &[u8]) -> Result<Self, DecodeError> {
        Err(unknown_type(event_type, &[]))
    }
}
