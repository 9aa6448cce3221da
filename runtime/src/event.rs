//! The [`Event`] trait that `#[derive(Event)]` implements for an enum of event types.

use crate::codec::{DecodeError, EncodeError};

/// The stored identity of one event type: its stable name and the version written today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    /// The type name written to the store, stable across renames of the Rust variant.
    pub name: &'static str,
    /// The version that new events of this type are written at.
    pub version: u32,
    /// Old names that stored events of this type may still carry.
    pub aliases: &'static [&'static str],
}

/// What an event type's declaration says beyond its name and version: the versions its
/// upcasters read, and whether it is deprecated. Written by `#[derive(Event)]` into
/// [`Event::HISTORY`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeHistory {
    /// The older versions an upcaster reads, oldest first.
    pub upcast_from: &'static [u32],
    /// Whether the type is `#[event(deprecated)]`.
    pub deprecated: bool,
}

impl EventType {
    /// Every name the type is read under: its name, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
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
/// assert_eq!(AccountEvent::NAMESPACE, "AccountEvent");
/// assert_eq!(event.event_type(), "FundsDeposited");
/// assert_eq!(event.event_version(), 2);
/// let bytes = event.encode().unwrap();
/// assert_eq!(bytes, br#"{"amount":5}"#);
/// assert_eq!(AccountEvent::decode("FundsDeposited", 2, &bytes).unwrap(), event);
/// assert!(AccountEvent::decode("Withdrawn", 1, b"{}").is_err());
/// ```
pub trait Event: Sized + Send + Sync + 'static {
    /// The namespace the enum's type names are stored in: the enum's name unless
    /// `#[event(namespace = "...")]` on the enum says otherwise. Stored with every event, so
    /// that an event named `Created` of this enum is never taken for a `Created` of another.
    const NAMESPACE: &'static str;

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

    /// Decodes a stored payload written under `event_type` (its name or an alias) at
    /// `event_version`, running the upcasters of an older version up to the current one.
    ///
    /// # Errors
    /// An unknown type name or version, a payload that does not decode into the variant, or
    /// an upcaster that fails.
    fn decode(event_type: &str, event_version: u32, payload: &[u8]) -> Result<Self, DecodeError>;

    /// Whether this event's variant is `#[event(deprecated)]`: still read, no longer written.
    fn is_deprecated(&self) -> bool {
        false
    }

    /// For the [catalog](crate::catalog): per type of [`Event::TYPES`], in the same order,
    /// the older versions its upcasters read and whether it is deprecated. Written by
    /// `#[derive(Event)]`; a type it does not cover has no upcasters and is not deprecated.
    const HISTORY: &'static [TypeHistory] = &[];

    /// For the [catalog](crate::catalog): the JSON Schema of every (name, version) the enum
    /// reads, when its payloads derive `schemars::JsonSchema` (see
    /// [`EventSchemas`](crate::schema::EventSchemas)), and `None` otherwise. Written by
    /// `#[derive(Event)]`.
    fn catalog_schemas() -> Option<Vec<crate::schema::EventSchema>> {
        None
    }
}

/// An event enum as the engine sees it when it checks a domain: its Rust type, the namespace
/// its events are stored in, and its types.
#[derive(Debug, Clone, Copy)]
pub struct EventEnumInfo {
    /// The enum's Rust type, for messages.
    pub rust_type: &'static str,
    /// Tells two enums apart.
    pub type_id: std::any::TypeId,
    /// [`Event::NAMESPACE`].
    pub namespace: &'static str,
    /// [`Event::TYPES`].
    pub types: &'static [EventType],
    /// Decodes a stored payload (type name, version, bytes) with [`Event::decode`] and drops
    /// it: whether the code still reads it, and why not.
    pub check: fn(&str, u32, &[u8]) -> Result<(), DecodeError>,
    /// [`Event::HISTORY`].
    pub history: &'static [TypeHistory],
    /// [`Event::catalog_schemas`].
    pub schemas: fn() -> Option<Vec<crate::schema::EventSchema>>,
}

impl EventEnumInfo {
    /// The information of enum `E`.
    #[must_use]
    pub fn of<E: Event>() -> Self {
        Self {
            rust_type: std::any::type_name::<E>(),
            type_id: std::any::TypeId::of::<E>(),
            namespace: E::NAMESPACE,
            types: E::TYPES,
            check: |event_type, event_version, payload| E::decode(event_type, event_version, payload).map(drop),
            history: E::HISTORY,
            schemas: E::catalog_schemas,
        }
    }

    /// Every name the enum's events are stored or read under.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.types.iter().flat_map(EventType::names)
    }

    /// The first stored name that `self` and `other` both read in the same namespace, if
    /// they are two enums: events of one would be read as events of the other.
    #[must_use]
    pub fn clash(&self, other: &Self) -> Option<&'static str> {
        if self.type_id == other.type_id || self.namespace != other.namespace {
            return None;
        }
        self.names().find(|name| other.names().any(|theirs| theirs == *name))
    }
}

/// The event enums a projection consumes: one enum, or a tuple of up to four.
/// Implemented by the runtime; `#[projection]` names it as `Projection::Events`.
pub trait EventSet: 'static {
    /// The enums.
    fn enums() -> Vec<EventEnumInfo>;

    /// The namespaces of the enums.
    fn namespaces() -> Vec<&'static str> {
        Self::enums().iter().map(|info| info.namespace).collect()
    }
}

macro_rules! event_set {
    ($($enum:ident),+) => {
        impl<$($enum: Event),+> EventSet for ($($enum,)+) {
            fn enums() -> Vec<EventEnumInfo> {
                vec![$(EventEnumInfo::of::<$enum>()),+]
            }
        }
    };
}

impl EventSet for () {
    fn enums() -> Vec<EventEnumInfo> {
        Vec::new()
    }
}

event_set!(E0);
event_set!(E0, E1);
event_set!(E0, E1, E2);
event_set!(E0, E1, E2, E3);

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
    /// Every name the variant is read under: its name, then its aliases.
    const NAMES: &'static [&'static str];
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
    /// The stored names of the events it converts into, for the [catalog](crate::catalog):
    /// a payload's own name, or every type an enum can write.
    const PRODUCED: &'static [&'static str] = &[];

    /// Converts the returned value into the event enum.
    fn produce(self) -> E;
}

/// Implemented by nothing: `#[derive(Event)]` makes `Produces` of a variant marked
/// `#[event(deprecated)]` require it, so that a handler returning the struct is told why it
/// cannot. (The lifetime keeps the bound from being checked where the impl is written.)
#[diagnostic::on_unimplemented(
    message = "`{T}` is marked `#[event(deprecated)]` in `{E}`: a command handler can no longer produce it",
    label = "deprecated in `{E}`",
    note = "a deprecated event is still read and applied, so stored ones keep their meaning; produce the event that replaces it"
)]
pub trait NotDeprecated<'x, T, E> {}
