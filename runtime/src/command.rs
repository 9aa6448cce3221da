//! Commands: typed routing to an aggregate.

use crate::aggregate::Aggregate;

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

impl ExpectStream {
    /// `"any"`, `"new"` or `"existing"`, as the [catalog](crate::catalog) says it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::New => "new",
            Self::Existing => "existing",
        }
    }
}

/// A command routed to one aggregate instance.
///
/// Implemented by `#[derive(Command)]` with `#[command(aggregate = A)]` and an `#[command(id)]`
/// field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a command",
    label = "`{Self}` does not derive `Command`",
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
/// not routed to. `#[derive(Command)]` implements it for every `A`, bounded by [`RoutedTo`],
/// so that a command routed elsewhere is told where it is routed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a command",
    label = "`{Self}` does not derive `Command`",
    note = "a `#[command]` method takes a command: derive it with `#[derive(Command)]`, `#[command(aggregate = {A})]` and an `#[command(id)]` field"
)]
pub trait CommandFor<A> {
    /// Names the routing in generated code, which checks it at the handler's command type.
    #[doc(hidden)]
    const ROUTED: () = ();

    /// [`Command::EXPECT`], for the [catalog](crate::catalog) entry `#[aggregate]` writes
    /// for the handler (read through the routing, so that a handler taking a type that is
    /// not a command is one error).
    const EXPECT: ExpectStream = ExpectStream::Any;
}

/// Holds when `Actual` and `Expected` are one aggregate: the bound of the `CommandFor`
/// impls `#[derive(Command)]` writes, whose message names both when they differ.
#[diagnostic::on_unimplemented(
    message = "`{C}` is routed to aggregate `{Actual}`, not to `{Expected}`",
    label = "handled here, by `{Expected}`",
    note = "a command is handled by the one aggregate it names: move this handler to `{Actual}`, or change `#[command(aggregate = {Actual})]` on `{C}` to `{Expected}`"
)]
pub trait RoutedTo<Actual, Expected, C> {}

#[diagnostic::do_not_recommend]
impl<T, A, C> RoutedTo<A, A, C> for T {}

/// The type of an `#[command(id)]` field: its text names the aggregate's stream
/// (`Order-42`), so it must implement `Display`. Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "the `#[command(id)]` field's type `{Self}` does not implement `Display`",
    label = "its text names the aggregate's stream, as in `Order-42`",
    note = "implement `std::fmt::Display` for `{Self}`, or mark a field whose type does as `#[command(id)]`"
)]
pub trait AggregateId {
    /// The text of the id, as it appears in the stream id.
    fn to_id(&self) -> String;
}

#[diagnostic::do_not_recommend]
impl<T: std::fmt::Display + ?Sized> AggregateId for T {
    #[inline]
    fn to_id(&self) -> String {
        self.to_string()
    }
}

/// What a `#[command]` method that takes its command by value needs: the command is kept to
/// decide again after a version conflict, so the method gets a clone. Implemented for every
/// `Clone` type.
#[diagnostic::on_unimplemented(
    message = "a `#[command]` method takes `{Self}` by value, so `{Self}` must implement `Clone`",
    label = "taken by value",
    note = "the command is kept to decide again after a version conflict, so a method that takes it by value gets a clone: derive `Clone` on `{Self}`, or take `&{Self}`"
)]
pub trait ClonedCommand: Sized {
    /// The clone the method gets.
    fn cloned_command(&self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<C: Clone> ClonedCommand for C {
    #[inline]
    fn cloned_command(&self) -> Self {
        self.clone()
    }
}
