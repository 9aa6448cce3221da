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
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The aggregate's stable name: the prefix of its stream ids (`Order-42`).
    const NAME: &'static str;
    /// The enum of events the aggregate's stream holds.
    type Event: Event;
    /// The error its command handlers reject a command with.
    type Error: std::error::Error + Send + Sync + 'static;

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

/// The replay fold of an event enum into a state that applies every one of its event types.
///
/// `#[derive(Event)]` implements it with one `Apply` bound per variant, which is how a
/// forgotten `#[apply]` becomes a compile error naming the missing event.
pub trait Fold<S> {
    /// Applies `self` to `state` through the state's `Apply` impl for this variant.
    fn fold_into(&self, state: &mut S);
}

/// Decides on one command type. `#[aggregate]` implements it for each `#[command]` method.
#[diagnostic::on_unimplemented(
    message = "aggregate `{Self}` has no `#[command]` handler for `{C}`",
    label = "`{C}` is routed to `{Self}`, which does not handle it",
    note = "add `#[command] fn handle(&self, command: {C}) -> Result<_, _>` to the `#[aggregate]` impl of `{Self}`"
)]
pub trait Handle<C>: Aggregate {
    /// Validates `command` against the current state and returns the events it produces.
    ///
    /// # Errors
    /// The aggregate's own error when the command is rejected.
    fn handle(&self, command: &C) -> Result<Vec<Self::Event>, Self::Error>;
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
