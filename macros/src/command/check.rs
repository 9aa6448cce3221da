//! Semantic checks of a command struct. Emits no tokens.

use quote::ToTokens;

use super::model::CommandStruct;
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, command: &CommandStruct<'_>) {
    check_id(cx, command);
}

/// The id field picks the aggregate instance: exactly one is needed.
fn check_id(cx: &Ctxt, command: &CommandStruct<'_>) {
    match command.ids.as_slice() {
        [] => cx.error_on(
            command.ident,
            format_args!(
                "command `{}` has no id field; mark the field that identifies the `{}` instance with `#[command(id)]`",
                command.ident,
                command.aggregate.to_token_stream()
            ),
        ),
        [_] => {}
        [first, rest @ ..] => {
            for extra in rest {
                cx.error_on(extra.field, "a command has one `#[command(id)]` field; remove this one or the other");
            }
            cx.error_on(first.field, "the first `#[command(id)]` field is here");
        }
    }
}
