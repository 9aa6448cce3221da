//! The seed's dynamic envelopes, `{"type": "CreateOrder", "data": {...}}`: an enum of
//! commands or of queries decoded from one ([`Envelope`]), then routed to the aggregate that
//! handles the command ([`CommandEnvelope`]) or the projection that answers the query
//! ([`QueryEnvelope`]). One decoding for both; the derives generate the routing.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::aggregate::Aggregate;
use crate::app::{Answerable, App, Committed};
use crate::codec::DecodeError;
use crate::error::Error;
use crate::event::Event;
use crate::store::BoxFuture;

/// An enum of messages (commands or queries) decoded from `{"type": ..., "data": ...}`.
/// Implemented by `#[derive(CommandEnvelope)]` and `#[derive(QueryEnvelope)]`.
pub trait Envelope: Sized + Send + 'static {
    /// The type names the enum decodes.
    const TYPES: &'static [&'static str];

    /// Decodes the `data` of a message of type `message_type`.
    ///
    /// # Errors
    /// An unknown type name, or data that does not decode into that message.
    fn decode(message_type: &str, data: &[u8]) -> Result<Self, DecodeError>;

    /// Decodes a whole `{"type": ..., "data": ...}` envelope.
    ///
    /// # Errors
    /// Bytes that are not such an envelope, or a type or data that [`decode`](Self::decode)
    /// rejects.
    fn from_json(json: &[u8]) -> Result<Self, DecodeError> {
        let envelope = split_envelope(json)?;
        Self::decode(&envelope.kind, envelope.data.get().as_bytes())
    }
}

/// An enum of commands from the dynamic envelope, each routed to the aggregate that handles
/// it: the seed's `CommandModel.processCommand`.
pub trait CommandEnvelope: Envelope {
    /// Executes the command on `app`.
    fn dispatch(self, app: &App) -> impl Future<Output = Result<Dispatched, Error>> + Send;
}

/// An enum of queries from the dynamic envelope, each answered by its projection as JSON:
/// the seed's `QueryModel.processQuery`.
pub trait QueryEnvelope: Envelope {
    /// Answers the query on `app`, as JSON text.
    fn answer(self, app: &App) -> impl Future<Output = Result<String, Error>> + Send;
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

impl<A: Aggregate> From<Committed<A>> for Dispatched {
    fn from(committed: Committed<A>) -> Self {
        Dispatched {
            stream_id: committed.stream_id,
            version: committed.version,
            events: committed
                .events
                .iter()
                .map(|recorded| DispatchedEvent {
                    event_type: recorded.event.event_type(),
                    stream_version: recorded.stream_version,
                    position: recorded.position,
                })
                .collect(),
        }
    }
}

/// A `{"type": ..., "data": ...}` envelope split, the data still raw.
#[derive(Debug, Deserialize)]
pub struct RawEnvelope<'a> {
    /// The type name.
    #[serde(rename = "type")]
    pub kind: std::borrow::Cow<'a, str>,
    /// The raw JSON of the data.
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// Splits a `{"type": ..., "data": ...}` envelope.
///
/// # Errors
/// [`DecodeError::Envelope`] when it is not such an envelope.
pub fn split_envelope(json: &[u8]) -> Result<RawEnvelope<'_>, DecodeError> {
    serde_json::from_slice(json).map_err(|source| DecodeError::Envelope { source })
}

/// Decodes the data of message type `name` (a command or a query).
///
/// # Errors
/// [`DecodeError::Payload`] naming the type.
#[doc(hidden)]
pub fn decode_message<'de, T: Deserialize<'de>>(name: &str, data: &'de [u8]) -> Result<T, DecodeError> {
    crate::codec::decode_json(name, 1, data)
}

/// An answer to a query of a [`QueryEnvelope`]: sent as JSON, so it must implement
/// `Serialize`. Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` answers a query of a `QueryEnvelope`, so it must implement `Serialize`",
    label = "answered as JSON",
    note = "add `#[derive(Serialize)]` to `{Self}`"
)]
pub trait SerializableAnswer: serde::Serialize {}

#[diagnostic::do_not_recommend]
impl<T: serde::Serialize> SerializableAnswer for T {}

/// A query answered through a [`QueryEnvelope`], whose answer is sent as JSON: by a
/// projection in memory or by a document projection's database (`Via`, as for
/// [`App::query`]). Implemented for every query whose answer is a [`SerializableAnswer`].
pub trait JsonAnswer<Via>: Answerable<Via> {
    /// Answers the query, as JSON text.
    ///
    /// # Errors
    /// As [`App::query`], or an answer that does not serialize.
    fn answer_json(self, app: &App) -> BoxFuture<'_, Result<String, Error>>;
}

impl<Via, Q: Answerable<Via>> JsonAnswer<Via> for Q
where
    Q::Output: SerializableAnswer + Send + 'static,
{
    fn answer_json(self, app: &App) -> BoxFuture<'_, Result<String, Error>> {
        let answer = app.query(self);
        Box::pin(async move {
            let answer = answer.await?;
            serde_json::to_string(&answer).map_err(|source| Error::Answer { query: std::any::type_name::<Q>(), source })
        })
    }
}
