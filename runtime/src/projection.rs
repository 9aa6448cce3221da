//! The read side: [`Projection`]s fold events from the global log into read models, and
//! [`Query`]s are answered by them. `#[projection]` implements both.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::decode::{CorruptEvent, decode_logged};
use crate::event::{Event, EventSet, VariantOf};
use crate::recorded::Recorded;
use crate::store::{LogEvent, StoredEvent};

/// A read model built from events of one or more event enums.
///
/// Implemented by `#[projection(name = "...", events = E)]` (or `events(E1, E2)`) on the read
/// model's impl block, with `#[apply]` methods taking `&Recorded<EventStruct>` and `#[query]`
/// methods answering queries.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a projection",
    note = "put `#[projection(name = \"...\", events = YourEvent)]` on an `impl {Self}` block with `#[apply]` methods"
)]
pub trait Projection: Sized + Send + Sync + 'static {
    /// The projection's stable name: the key of its checkpoint.
    const NAME: &'static str;

    /// The read model before the first event: `Default::default()` for `#[projection]`.
    fn initial() -> Self;

    /// The event enums it consumes: one enum, or a tuple of them.
    type Events: EventSet;

    /// Whether the read model's state is saved with its checkpoint (`#[projection(persist)]`),
    /// so that a restart resumes from the checkpoint instead of replaying from zero.
    const PERSIST: bool = false;

    /// The stored type names (and old names) of the events the projection consumes, so that
    /// the store can filter the global log.
    fn event_types() -> Vec<&'static str>;

    /// Applies one event of the global log, borrowed from the store, if the projection
    /// consumes its type (its name and namespace: a `Created` of another enum is skipped).
    /// Returns whether it was applied.
    ///
    /// # Errors
    /// An event that does not decode, or an `#[apply]` method that failed or panicked.
    fn apply_event(&mut self, event: LogEvent<'_>) -> Result<bool, ApplyError>;

    /// [`apply_event`](Self::apply_event) for an event read with
    /// [`EventStore::read_all`](crate::store::EventStore::read_all).
    ///
    /// # Errors
    /// As `apply_event`.
    fn apply_stored(&mut self, stored: StoredEvent) -> Result<bool, ApplyError> {
        self.apply_event(stored.as_log())
    }

    /// The state to save with the checkpoint, for a persisted projection.
    ///
    /// # Errors
    /// The state's `Serialize` impl failed.
    fn save_state(&self) -> Option<Result<Vec<u8>, serde_json::Error>> {
        None
    }

    /// Restores a saved state.
    ///
    /// # Errors
    /// The saved bytes do not decode (then the projection replays from zero).
    fn restore_state(_state: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(Self::initial())
    }

    /// How each event type its `#[apply]` methods take is stored, in their order, for the
    /// [catalog](crate::catalog). Written by `#[projection]`.
    #[doc(hidden)]
    fn applies() -> Vec<crate::projection::StoredAs> {
        Vec::new()
    }

    /// The queries its `#[query]` methods answer, for the [catalog](crate::catalog).
    /// Written by `#[projection]`.
    fn queries() -> Vec<crate::described::QueryEntry> {
        Vec::new()
    }
}

/// Why a projection could not apply an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The stored event does not decode.
    #[error(transparent)]
    Corrupt(Box<CorruptEvent>),
    /// The `#[apply]` method returned an error.
    #[error("`#[apply]` for `{event_type}` at stream `{stream_id}` (global position {position}) failed: {message}")]
    Failed {
        /// The event's type name.
        event_type: &'static str,
        /// Its stream.
        stream_id: String,
        /// Its global position.
        position: u64,
        /// The method's error.
        message: String,
    },
    /// The `#[apply]` method panicked.
    #[error("`#[apply]` for `{event_type}` at stream `{stream_id}` (global position {position}) panicked: {message}")]
    Panicked {
        /// The event's type name.
        event_type: &'static str,
        /// Its stream.
        stream_id: String,
        /// Its global position.
        position: u64,
        /// The panic's message.
        message: String,
    },
    /// A stored document the event updates does not decode (its type changed without a
    /// rebuild), or the document does not encode.
    #[error("the document `{key}` that the event at global position {position} updates does not {action}: {source}")]
    Document {
        /// The document's key.
        key: String,
        /// The global position of the first event of the batch that updates it.
        position: u64,
        /// `"decode"` or `"encode"`.
        action: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
}

impl ApplyError {
    /// The global position of the event that failed.
    #[must_use]
    pub fn position(&self) -> u64 {
        match self {
            Self::Corrupt(corrupt) => corrupt.position,
            Self::Failed { position, .. } | Self::Panicked { position, .. } | Self::Document { position, .. } => {
                *position
            }
        }
    }
}

/// A query answered by one projection. `#[query]` implements it for the method's query type,
/// with the method's return type as `Output`.
#[diagnostic::on_unimplemented(
    message = "no projection answers `{Self}`",
    label = "`{Self}` is not answered by any `#[query]` method",
    note = "add `#[query] fn answer(&self, query: {Self}) -> YourAnswer` to a `#[projection]` impl"
)]
pub trait Query: Send + 'static {
    /// The projection that answers it.
    type Projection: Projection;
    /// The typed answer.
    type Output;

    /// Answers the query from the read model.
    fn answer(self, model: &Self::Projection) -> Self::Output;
}

/// The read model a projection starts from, before its first event: implemented for every
/// `Default` type. `#[projection]` creates the model through it, so that a model without
/// `Default` is one error at its type.
#[diagnostic::on_unimplemented(
    message = "projection `{Self}` has no empty read model: it must implement `Default`",
    label = "the log is applied onto `Default::default()`",
    note = "add `#[derive(Default)]` to `{Self}`, or implement `Default` by hand"
)]
pub trait InitialModel {
    /// The read model before the first event.
    fn initial_model() -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Default> InitialModel for T {
    #[inline]
    fn initial_model() -> Self {
        T::default()
    }
}

/// What a `#[projection(persist)]` read model needs: it is saved with its checkpoint as
/// JSON, so it must implement `Serialize` and `Deserialize`. Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "projection `{Self}` is persisted, so it must implement both `Serialize` and `Deserialize`",
    label = "its read model is saved with its checkpoint as JSON",
    note = "derive the one `{Self}` lacks, or both: `#[derive(Serialize, Deserialize)]`; or drop `persist` to rebuild the read model from the log at startup"
)]
pub trait PersistedModel: Sized {
    /// The read model as saved.
    ///
    /// # Errors
    /// A failing `Serialize` impl.
    fn save_model(&self) -> Result<Vec<u8>, serde_json::Error>;

    /// The read model from what was saved.
    ///
    /// # Errors
    /// A saved state that does not decode.
    fn restore_model(state: &[u8]) -> Result<Self, serde_json::Error>;
}

#[diagnostic::do_not_recommend]
impl<P: serde::Serialize + serde::de::DeserializeOwned> PersistedModel for P {
    fn save_model(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    fn restore_model(state: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(state)
    }
}

/// The position of an enum in a projection's tuple of event enums.
#[doc(hidden)]
pub struct Idx<const N: usize>;

/// An event struct that belongs to exactly one of the event enums `Events` (a tuple), found
/// by type inference on `Index`. This is how `#[projection(events(E1, E2))]` routes an
/// `#[apply]` method to the right enum without being told which.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of this projection",
    label = "no variant of the projection's event enums wraps `{Self}`",
    note = "the projection consumes the enums in `#[projection(events = ...)]`; add the enum that wraps `{Self}` there, or remove this `#[apply]`"
)]
pub trait Member<Events, Index> {
    /// The enum `Self` belongs to.
    type Enum: Event;
    /// The stored type name.
    const NAME: &'static str;
    /// Every name it is read under: its name, then its aliases.
    const NAMES: &'static [&'static str];
    /// How it is stored: its names and its enum's namespace.
    const STORED_AS: StoredAs = StoredAs { names: Self::NAMES, namespace: <Self::Enum as Event>::NAMESPACE };

    /// Takes `Self` out of the enum, if `event` is its variant.
    fn extract(event: Self::Enum) -> Option<Self>
    where
        Self: Sized;
}

macro_rules! member_impl {
    (($($all:ident),+), $index:literal => $enum:ident) => {
        #[diagnostic::do_not_recommend]
        impl<X, $($all: Event),+> Member<($($all,)+), Idx<$index>> for X
        where
            X: VariantOf<$enum>,
        {
            type Enum = $enum;
            const NAME: &'static str = <X as VariantOf<$enum>>::NAME;
            const NAMES: &'static [&'static str] = <X as VariantOf<$enum>>::NAMES;

            #[inline]
            fn extract(event: $enum) -> Option<Self> {
                <X as VariantOf<$enum>>::from_event(event).ok()
            }
        }
    };
}

member_impl!((E0), 0 => E0);
member_impl!((E0, E1), 0 => E0);
member_impl!((E0, E1), 1 => E1);
member_impl!((E0, E1, E2), 0 => E0);
member_impl!((E0, E1, E2), 1 => E1);
member_impl!((E0, E1, E2), 2 => E2);
member_impl!((E0, E1, E2, E3), 0 => E0);
member_impl!((E0, E1, E2, E3), 1 => E1);
member_impl!((E0, E1, E2, E3), 2 => E2);
member_impl!((E0, E1, E2, E3), 3 => E3);

/// An `#[apply]` event struct `X` and two of a projection's enums, `A` and `B`: generated
/// code calls `(&&Pair::<X, A, B>::NEW).overlap()`, which method lookup resolves to
/// [`InBoth`] when both enums wrap `X` (the impl on `&Pair` is tried first and exists only
/// then) and to [`InOne`] otherwise. [`OneEnum`] then accepts only `InOne`, so a struct
/// that two enums wrap is reported with the fix, instead of as an ambiguous inference.
#[doc(hidden)]
pub struct Pair<X, A, B>(std::marker::PhantomData<PairOf<X, A, B>>);

/// What a [`Pair`] is about, without owning any of it.
type PairOf<X, A, B> = fn() -> (X, A, B);

impl<X, A, B> Pair<X, A, B> {
    /// The probe.
    pub const NEW: Self = Pair(std::marker::PhantomData);
}

/// Both enums of a [`Pair`] wrap the struct.
#[doc(hidden)]
pub struct InBoth;

/// At most one enum of a [`Pair`] wraps the struct.
#[doc(hidden)]
pub struct InOne;

/// The lookup that finds [`InBoth`].
#[doc(hidden)]
pub trait Overlap {
    /// `InBoth`.
    fn overlap(&self) -> InBoth;
}

impl<X: VariantOf<A> + VariantOf<B>, A: Event, B: Event> Overlap for &Pair<X, A, B> {
    fn overlap(&self) -> InBoth {
        InBoth
    }
}

/// The lookup that finds [`InOne`].
#[doc(hidden)]
pub trait NoOverlap {
    /// `InOne`.
    fn overlap(&self) -> InOne;
}

impl<X, A, B> NoOverlap for Pair<X, A, B> {
    fn overlap(&self) -> InOne {
        InOne
    }
}

/// Implemented only by [`InOne`]: the struct `X` is not wrapped by both `A` and `B`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{X}` is an event of both `{A}` and `{B}`, so this `#[apply]` method does not say which it applies",
    label = "wrapped by `{A}` and by `{B}`",
    note = "name the enum with `#[apply({A})]` or `#[apply({B})]`; to apply both, write one method for each"
)]
pub trait OneEnum<X, A, B>: Sized {
    /// Accepts the outcome.
    #[inline]
    fn accept(self) {}
}

#[diagnostic::do_not_recommend]
impl<X, A, B> OneEnum<X, A, B> for InOne {}

/// How an event type of a projection is stored: its names and its enum's namespace.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct StoredAs {
    /// Its name, then its aliases.
    pub names: &'static [&'static str],
    /// Its enum's namespace.
    pub namespace: &'static str,
}

impl StoredAs {
    /// Whether a logged event is of this type: one of its names, in its enum's namespace (or
    /// in none, for events stored without one).
    #[inline]
    #[must_use]
    pub fn matches(&self, event: &LogEvent<'_>) -> bool {
        self.names.contains(&event.event_type) && event.namespace.is_none_or(|namespace| namespace == self.namespace)
    }
}

/// Decodes a logged event into the member `X` and applies it with `apply`, turning a failure
/// or a panic of `apply` into an [`ApplyError`] that names the event and its position.
/// Returns whether it was applied.
///
/// # Errors
/// An event that does not decode, or an `apply` that failed or panicked.
#[doc(hidden)]
pub fn apply_member<X, Es, I>(
    logged: LogEvent<'_>,
    apply: impl FnOnce(&Recorded<X>) -> Result<(), String>,
) -> Result<bool, ApplyError>
where
    X: Member<Es, I>,
{
    let enum_event = decode_logged::<X::Enum>(&logged).map_err(ApplyError::Corrupt)?;
    let Some(event) = X::extract(enum_event) else {
        // The type name matched, so the enum decoded this variant; nothing else can happen.
        return Ok(false);
    };
    // The stream id is copied into a buffer kept for the next event, not a new allocation:
    // a catch-up applies millions of events, each with its stream id.
    let mut stream_id = STREAM_ID.take();
    stream_id.clear();
    stream_id.push_str(logged.stream_id);
    let recorded = Recorded {
        id: logged.id,
        stream_id,
        stream_version: logged.stream_version,
        position: logged.position,
        recorded_at: logged.recorded_at,
        metadata: logged.metadata.into_owned(),
        event,
    };
    match catch_unwind(AssertUnwindSafe(|| apply(&recorded))) {
        Ok(Ok(())) => {
            STREAM_ID.set(recorded.stream_id);
            Ok(true)
        }
        Ok(Err(message)) => Err(ApplyError::Failed {
            event_type: X::NAME,
            stream_id: recorded.stream_id,
            position: recorded.position,
            message,
        }),
        Err(panic) => Err(ApplyError::Panicked {
            event_type: X::NAME,
            stream_id: recorded.stream_id,
            position: recorded.position,
            message: panic_message(&*panic),
        }),
    }
}

thread_local! {
    /// The buffer [`apply_member`] copies stream ids into.
    static STREAM_ID: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// What a caught panic said.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// What an `#[apply]` method of a projection may return: nothing, or a `Result` whose error
/// stops the projection.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "an `#[apply]` method of a projection cannot return `{Self}`",
    label = "return nothing, or `Result<(), E>` where `E: Display`",
    note = "an error stops the projection at this event, naming it; return nothing if applying cannot fail"
)]
pub trait ApplyOutcome {
    /// Turns the outcome into the error message that stops the projection, if any.
    ///
    /// # Errors
    /// The method's error, as text.
    fn into_outcome(self) -> Result<(), String>;
}

#[diagnostic::do_not_recommend]
impl ApplyOutcome for () {
    #[inline]
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

#[diagnostic::do_not_recommend]
impl<E: std::fmt::Display> ApplyOutcome for Result<(), E> {
    #[inline]
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|error| error.to_string())
    }
}

/// A unit event's envelope, as a projection's `#[apply(Enum::Variant)]` method takes it.
#[must_use]
pub fn unit_recorded<M>(recorded: &Recorded<M>) -> Recorded<()> {
    Recorded {
        id: recorded.id,
        stream_id: recorded.stream_id.clone(),
        stream_version: recorded.stream_version,
        position: recorded.position,
        recorded_at: recorded.recorded_at,
        metadata: recorded.metadata.clone(),
        event: (),
    }
}
