//! Commands: typed routing to an aggregate, and the seed's dynamic `{type, data}` envelope.

use std::future::Future;

use serde::Serialize;

use crate::aggregate::Aggregate;
use crate::app::App;
use crate::error::{DecodeError, Error};

/// What a command expects of its aggregate's stream before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectStream {
    /// The command runs whether or not the aggregate exists.
    Any,
    /// The command creates the aggregate: it is rejected if the stream has events.
    New,
    /// The command needs an existing aggregate: it is rejected if the stream is empty.
    Existing,
}

/// A command routed to one aggregate instance.
///
/// Implemented by `#[derive(Command)]` with `#[command(aggregate = A)]` and an `#[command(id)]`
/// field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a command",
    note = "derive it: `#[derive(Command)]` with `#[command(aggregate = YourAggregate)]` and an `#[command(id)]` field"
)]
pub trait Command: Send + Sync + 'static {
    /// The aggregate that handles this command.
    type Aggregate: Aggregate;
    /// What the command expects of the aggregate's stream.
    const EXPECT: ExpectStream = ExpectStream::Any;
    /// The id of the aggregate instance, as it appears in the stream id.
    fn aggregate_id(&self) -> String;
}

/// Marks a command as routed to the aggregate `A`. `#[aggregate]` requires it of every
/// `#[command]` method's command so that a command cannot be handled by an aggregate it is
/// not routed to.
#[diagnostic::on_unimplemented(
    message = "command `{Self}` is not routed to aggregate `{A}`",
    label = "`{Self}` names another aggregate in `#[command(aggregate = ...)]`",
    note = "a command is handled by exactly one aggregate: change `#[command(aggregate = ...)]` on `{Self}` to `{A}`, or move this handler"
)]
pub trait CommandFor<A> {}

/// An enum of commands decoded from the seed's dynamic envelope,
/// `{"type": "CreateOrder", "data": {...}}`, and routed to the aggregate that handles it.
///
/// Implemented by `#[derive(Command)]` on an enum whose variants each wrap a command struct.
pub trait CommandEnvelope: Sized + Send + 'static {
    /// The command type names the enum decodes.
    const TYPES: &'static [&'static str];

    /// Decodes the `data` of a command of type `command_type`.
    ///
    /// # Errors
    /// An unknown type name, or data that does not decode into that command.
    fn decode(command_type: &str, data: &[u8]) -> Result<Self, DecodeError>;

    /// Decodes a whole `{"type": ..., "data": ...}` envelope.
    ///
    /// # Errors
    /// Bytes that are not such an envelope, or a type or data that [`decode`](Self::decode)
    /// rejects.
    fn from_json(json: &[u8]) -> Result<Self, DecodeError> {
        let envelope = crate::__private::decode_envelope(json)?;
        Self::decode(&envelope.kind, envelope.data.get().as_bytes())
    }

    /// Executes the command on `app`.
    fn dispatch(self, app: &App) -> impl Future<Output = Result<Dispatched, Error>> + Send;
}

/// What a dynamically dispatched command committed, ready to be returned as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    /// The stream the command was executed on.
    pub stream_id: String,
    /// The stream's version after the command.
    pub version: u64,
    /// The events the command appended, in order.
    pub events: Vec<DispatchedEvent>,
}

/// One event appended by a dynamically dispatched command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchedEvent {
    /// The event's stable type name.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// Its position in the stream.
    pub stream_version: u64,
    /// Its position in the global log.
    pub position: u64,
}
