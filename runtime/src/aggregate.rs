//! The write model: [`Aggregate`] state rebuilt by a fold over its events, and [`Handle`]
//! for each command it decides on. `#[aggregate]` implements all of these.

use crate::event::Event;

/// An aggregate: state rebuilt from its own stream of events, which decides on commands.
///
/// Implemented by `#[aggregate(event = E, error = Err)]` on the state's impl block.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an aggregate",
    note = "put `#[aggregate(event = YourEvent, error = YourError)]` on an `impl {Self}` block"
)]
pub trait Aggregate: Sized + Send + Sync + 'static {
    /// The aggregate's stable name: the prefix of its stream ids (`Order-42`).
    const NAME: &'static str;

    /// The state before the first event: `Default::default()` for `#[aggregate]`.
    fn initial() -> Self;
    /// The enum of events the aggregate's stream holds.
    type Event: Event;
    /// The error its command handlers reject a command with.
    type Error: AggregateError;

    /// Folds one event into the state (the seed's `replayEvents`, one step).
    fn apply(&mut self, event: &Self::Event);

    /// A snapshot of the state is stored every this many events; 0 for never.
    /// Set by `#[aggregate(snapshot_every = N)]`.
    const SNAPSHOT_EVERY: u64 = 0;

    /// The fingerprint of the state's shape (its JSON Schema) and the aggregate's snapshot
    /// revision: a snapshot written under another fingerprint is ignored.
    fn snapshot_fingerprint() -> String {
        String::new()
    }

    /// The state as a snapshot, if the aggregate takes snapshots.
    fn encode_snapshot(&self) -> Option<Result<Vec<u8>, serde_json::Error>> {
        None
    }

    /// The state from a snapshot, if the aggregate takes snapshots.
    fn decode_snapshot(state: &[u8]) -> Option<Result<Self, serde_json::Error>> {
        let _ = state;
        None
    }

    /// A copy of the state for the app's cache of recently used aggregates, or `None` to
    /// load it from the store for every command. `#[aggregate]` returns a clone when the
    /// state is `Clone`.
    fn cached_copy(&self) -> Option<Self> {
        None
    }

    /// Its command handlers, for the [catalog](crate::catalog): written by `#[aggregate]`.
    fn commands() -> Vec<crate::described::CommandEntry> {
        Vec::new()
    }
}

/// What an aggregate's error (`#[aggregate(error = E)]`) needs: implemented for every
/// `std::error::Error + Send + Sync + 'static` type.
#[diagnostic::on_unimplemented(
    message = "the aggregate's error `{Self}` does not implement `std::error::Error`",
    label = "named in `#[aggregate(error = ...)]`",
    note = "derive `thiserror::Error` on `{Self}` with an `#[error(\"...\")]` message, or implement `Display` and `std::error::Error` by hand; it must also be `Send + Sync + 'static`"
)]
pub trait AggregateError: Send + Sync + 'static {
    /// The error as a `std::error::Error`, for code generic over aggregates.
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static);
}

#[diagnostic::do_not_recommend]
impl<T: std::error::Error + Send + Sync + 'static> AggregateError for T {
    #[inline]
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
}

/// The state an aggregate starts from, before its first event: implemented for every
/// `Default` type. `#[aggregate]` creates the state through it, so that a state without
/// `Default` is one error at its type.
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` has no starting state: it must implement `Default`",
    label = "a stream is replayed onto `Default::default()`",
    note = "add `#[derive(Default)]` to `{Self}`, or implement `Default` by hand"
)]
pub trait InitialState {
    /// The state before the first event.
    fn initial_state() -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Default> InitialState for T {
    #[inline]
    fn initial_state() -> Self {
        T::default()
    }
}

/// Applies one event type to a state. `#[aggregate]` implements it for each `#[apply]`
/// method and for each event listed in `ignore(...)`.
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` does not apply event `{E}`",
    label = "`{E}` has no `#[apply]` method in `{Self}`",
    note = "add `#[apply] fn on_event(&mut self, event: &{E}) {{ ... }}` to the `#[aggregate]` impl of `{Self}`, or ignore it explicitly with `#[aggregate(..., ignore({E}))]`"
)]
pub trait Apply<E> {
    /// Applies `event` to the state.
    fn apply(&mut self, event: &E);
}

/// The bound `#[derive(Event)]` puts on a state for each struct variant of its enum:
/// implemented for every state with an `Apply` impl for the struct. It exists for its
/// message: a forgotten `#[apply]` is reported as this bound, naming the event.
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` does not apply event `{E}`",
    label = "`{E}` has no `#[apply]` method in `{Self}`",
    note = "add `#[apply] fn on_event(&mut self, event: &{E}) {{ ... }}` to the `#[aggregate]` impl of `{Self}`, or ignore it explicitly with `#[aggregate(..., ignore({E}))]`"
)]
pub trait Applies<E> {
    /// Applies `event` to the state.
    fn apply_event(&mut self, event: &E);
}

#[diagnostic::do_not_recommend]
impl<S: Apply<E>, E> Applies<E> for S {
    #[inline]
    fn apply_event(&mut self, event: &E) {
        self.apply(event);
    }
}

/// [`Applies`] for a unit variant `Enum::U` (whose marker type is `U`).
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` does not apply the unit event `{Enum}::{U}`",
    label = "`{Enum}::{U}` has no `#[apply({Enum}::{U})]` method in `{Self}`",
    note = "add `#[apply({Enum}::{U})] fn on_event(&mut self) {{ ... }}` to the `#[aggregate]` impl of `{Self}`, or ignore it explicitly with `#[aggregate(..., ignore({Enum}::{U}))]`"
)]
pub trait AppliesUnit<Enum, U> {
    /// Applies the unit event to the state.
    fn apply_unit(&mut self, unit: &U);
}

#[diagnostic::do_not_recommend]
impl<S: Apply<U>, Enum, U> AppliesUnit<Enum, U> for S {
    #[inline]
    fn apply_unit(&mut self, unit: &U) {
        self.apply(unit);
    }
}

/// An event enum whose every event type the state `S` applies: the replay fold of the enum
/// into `S` (the seed's `replayEvents`, one step).
///
/// `#[derive(Event)]` implements it with one [`Applies`] (or [`AppliesUnit`]) bound per
/// variant, which is how a forgotten `#[apply]` becomes a compile error naming the event.
pub trait AppliedBy<S> {
    /// Applies `self` to `state` through the state's `Apply` impl for this variant.
    fn apply_to(&self, state: &mut S);
}

/// What an aggregate with `#[aggregate(snapshot_every = N)]` needs of its state: a snapshot
/// stores it as JSON, and the fingerprint of its JSON Schema tells a snapshot of an older
/// shape (which is then ignored). Implemented for every `Serialize + Deserialize +
/// JsonSchema` type.
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` takes snapshots, so it must implement `Serialize`, `Deserialize` and `JsonSchema`",
    label = "snapshots are taken here",
    note = "derive the ones `{Self}` lacks of `Serialize`, `Deserialize` and `schemars::JsonSchema`: a snapshot stores the state as JSON, and the fingerprint of its schema tells a snapshot of an older shape, which is then ignored"
)]
pub trait SnapshotState: Sized {
    /// The fingerprint of the state's shape at the aggregate's snapshot `revision`.
    fn state_fingerprint(revision: u32) -> String;

    /// The state as a snapshot.
    ///
    /// # Errors
    /// A failing `Serialize` impl.
    fn encode_state(&self) -> Result<Vec<u8>, serde_json::Error>;

    /// The state from a snapshot.
    ///
    /// # Errors
    /// A snapshot that does not decode.
    fn decode_state(state: &[u8]) -> Result<Self, serde_json::Error>;
}

#[diagnostic::do_not_recommend]
impl<S: serde::Serialize + serde::de::DeserializeOwned + schemars::JsonSchema> SnapshotState for S {
    fn state_fingerprint(revision: u32) -> String {
        crate::schema::state_fingerprint::<S>(revision)
    }

    fn encode_state(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    fn decode_state(state: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(state)
    }
}

/// The error a `#[command]` method returns, which converts into its aggregate's error `E`.
/// Implemented for every `Into<E>` type.
#[diagnostic::on_unimplemented(
    message = "a `#[command]` method returns the error `{Self}`, which does not convert into the aggregate's error `{E}`",
    label = "`{Self}` is not `{E}` and has no `From` conversion into it",
    note = "return `{E}`, or implement `From<{Self}> for {E}` (thiserror's `#[from]` writes it)"
)]
pub trait HandlerError<E> {
    /// The aggregate's error.
    fn into_aggregate_error(self) -> E;
}

#[diagnostic::do_not_recommend]
impl<T: Into<E>, E> HandlerError<E> for T {
    #[inline]
    fn into_aggregate_error(self) -> E {
        self.into()
    }
}

/// Decides on one command type. `#[aggregate]` implements it for each `#[command]` method.
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` has no `#[command]` handler for `{C}`",
    label = "`{C}` is routed to `{Self}`, which does not handle it",
    note = "add a `#[command]` method taking `{C}` to the `#[aggregate]` impl of `{Self}`: `fn handle(&self, command: {C}) -> Result<E, Error>`, with one of `{Self}`'s events for `E` and its error for `Error`"
)]
pub trait Handle<C>: Aggregate {
    /// Validates `command` against the current state and returns the events it produces.
    ///
    /// # Errors
    /// The aggregate's own error when the command is rejected.
    fn handle(&self, command: &C) -> Result<Vec<Self::Event>, Self::Error>;
}

/// A command its aggregate `A` has a `#[command]` handler for: implemented for every command
/// `C` with `A: Handle<C>`. [`App::execute`](crate::App::execute) takes it, so that a command
/// without a handler is one error, at the command.
#[diagnostic::on_unimplemented(
    message = "aggregate `{A}` has no `#[command]` handler for `{Self}`",
    label = "`{Self}` is routed to `{A}`, which does not handle it",
    note = "add a `#[command]` method taking `{Self}` to the `#[aggregate]` impl of `{A}`: `fn handle(&self, command: {Self}) -> Result<E, Error>`, with one of `{A}`'s events for `E` and its error for `Error`"
)]
pub trait HandledBy<A: Aggregate> {
    /// Decides on the command with the state `state`.
    ///
    /// # Errors
    /// The aggregate's rejection.
    fn decide(&self, state: &A) -> Result<Vec<A::Event>, A::Error>;
}

#[diagnostic::do_not_recommend]
impl<C, A: Handle<C>> HandledBy<A> for C {
    #[inline]
    fn decide(&self, state: &A) -> Result<Vec<A::Event>, A::Error> {
        state.handle(self)
    }
}

#[doc(hidden)]
/// One produced event, as the list a handler's output becomes.
#[inline]
pub fn one<E>(event: E) -> Vec<E> {
    vec![event]
}

#[doc(hidden)]
/// `(&&MaybeClone(&state)).maybe_clone()` clones a state that is `Clone` and gives `None`
/// for one that is not: method lookup tries the by-reference impl first, and it exists only
/// for `Clone` types (autoref specialization, for the concrete types a macro sees).
pub struct MaybeClone<'a, T>(pub &'a T);

/// The impl picked for a `Clone` state.
#[doc(hidden)]
pub trait CloneIfClone<T> {
    /// A clone of the state.
    fn maybe_clone(&self) -> Option<T>;
}

impl<T: Clone> CloneIfClone<T> for &MaybeClone<'_, T> {
    fn maybe_clone(&self) -> Option<T> {
        Some(self.0.clone())
    }
}

/// The impl picked otherwise.
#[doc(hidden)]
pub trait NotClone<T> {
    /// `None`: the state cannot be cloned.
    fn maybe_clone(&self) -> Option<T>;
}

impl<T> NotClone<T> for MaybeClone<'_, T> {
    fn maybe_clone(&self) -> Option<T> {
        None
    }
}
