//! The [`Event`] trait that `#[derive(Event)]` implements for an enum of event types.

use crate::error::{DecodeError, EncodeError};

/// The stored identity of one event type: its stable name and the version written today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    /// The type name written to the store, stable across renames of the Rust variant.
    pub name: &'static str,
    /// The version that new events of this type are written at.
    pub version: u32,
}

/// An enum of event types, with a stable name and version per variant.
///
/// Implemented by `#[derive(Event)]`; the payload of each variant is encoded as a JSON
/// object and decoded straight from the stored bytes into the typed variant.
///
/// ```
/// use eventsmith::prelude::*;
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// pub struct Deposited { pub amount: u64 }
///
/// #[derive(Event, Debug, Clone, PartialEq)]
/// pub enum AccountEvent {
///     #[event(name = "FundsDeposited", version = 2)]
///     Deposited(Deposited),
///     Closed,
/// }
///
/// let event = AccountEvent::from(Deposited { amount: 5 });
/// assert_eq!(event.event_type(), "FundsDeposited");
/// assert_eq!(event.event_version(), 2);
/// let bytes = event.encode().unwrap();
/// assert_eq!(bytes, br#"{"amount":5}"#);
/// assert_eq!(AccountEvent::decode("FundsDeposited", 2, &bytes).unwrap(), event);
/// assert!(AccountEvent::decode("Withdrawn", 1, b"{}").is_err());
/// ```
pub trait Event: Sized + Send + Sync + 'static {
    /// Every event type of the enum, in declaration order.
    const TYPES: &'static [EventType];

    /// The stable type name of this event.
    fn event_type(&self) -> &'static str;

    /// The version this event is written at.
    fn event_version(&self) -> u32;

    /// The position of this event's variant in [`Event::TYPES`].
    fn variant_index(&self) -> usize;

    /// Encodes the payload as a JSON object.
    ///
    /// # Errors
    /// When the payload's `Serialize` impl fails or does not produce a JSON object.
    fn encode(&self) -> Result<Vec<u8>, EncodeError>;

    /// Decodes a stored payload written under `event_type` at `event_version`.
    ///
    /// # Errors
    /// An unknown type name or version, or a payload that does not decode into the variant.
    fn decode(event_type: &str, event_version: u32, payload: &[u8]) -> Result<Self, DecodeError>;
}

/// Implemented by `#[derive(Event)]` for each type that a variant of the enum `E` wraps.
///
/// It is what lets an `#[apply]` method name an event struct and have the compiler check
/// that the struct belongs to the aggregate's or projection's event enum.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of `{E}`",
    label = "no variant of `{E}` wraps `{Self}`",
    note = "add a variant wrapping `{Self}` to `{E}`, or remove the `#[apply]` method for it"
)]
pub trait VariantOf<E: Event>: Sized {
    /// The variant's index in [`Event::TYPES`].
    const INDEX: usize;
    /// The stable type name of the variant.
    const NAME: &'static str;
    /// The version the variant is written at.
    const VERSION: u32;

    /// Wraps the payload in its enum variant.
    fn into_event(self) -> E;

    /// Takes the payload out of the enum if `event` is this variant, or gives it back.
    ///
    /// # Errors
    /// Returns `event` unchanged when it is another variant.
    fn from_event(event: E) -> Result<Self, E>;
}

/// A value a command handler may return as an event of `E`: each non-deprecated event
/// struct of the enum, and the enum itself. Implemented by `#[derive(Event)]`.
#[diagnostic::on_unimplemented(
    message = "a command handler of an aggregate over `{E}` cannot return `{Self}`",
    label = "`{Self}` is not an event of `{E}`",
    note = "return one of `{E}`'s event structs, `{E}` itself, or an `Option`, `Vec` or array of them"
)]
pub trait Produces<E> {
    /// Converts the returned value into the event enum.
    fn produce(self) -> E;
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and every Rust release, for
/// fingerprints that are stored.
#[must_use]
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}
