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

#[doc(hidden)]
/// The text of an `#[command(id)]` field, as it appears in the stream id.
#[inline]
pub fn aggregate_id<T: std::fmt::Display + ?Sized>(id: &T) -> String {
    id.to_string()
}
