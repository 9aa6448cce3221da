//! Semantic checks of an aggregate. Emits no tokens.
//!
//! What needs the types (a missing `#[apply]`, an event of another enum, a command routed
//! elsewhere) is checked by the compiler through bounds in the generated code.

use quote::ToTokens;

use super::model::AggregateImpl;
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, model: &AggregateImpl<'_>) {
    for (index, handler) in model.commands.iter().enumerate() {
        let key = handler.command.to_token_stream().to_string();
        if let Some(first) =
            model.commands[..index].iter().find(|earlier| earlier.command.to_token_stream().to_string() == key)
        {
            cx.error_on(
                handler.command,
                format_args!("command `{key}` is handled twice; a command has exactly one `#[command]` handler"),
            );
            cx.error_on(first.command, format_args!("`{key}` is first handled by `{}` here", first.method));
        }
    }
    for (index, apply) in model.applies.iter().enumerate() {
        let key = apply.event.key();
        if let Some(first) = model.applies[..index].iter().find(|earlier| earlier.event.key() == key) {
            cx.error_on(
                apply.event.tokens(),
                format_args!("event `{key}` is applied twice; merge the two `#[apply]` methods into one"),
            );
            cx.error_on(first.event.tokens(), format_args!("`{key}` is first applied by `{}` here", first.method));
        }
        if let Some(ignored) = model.ignores.iter().find(|ignored| ignored.key() == key) {
            cx.error_on(
                apply.event.tokens(),
                format_args!(
                    "event `{key}` is both applied and ignored; remove it from `ignore(...)` or remove this method"
                ),
            );
            cx.error_on(ignored.tokens(), format_args!("`{key}` is ignored here"));
        }
    }
    for (index, ignored) in model.ignores.iter().enumerate() {
        let key = ignored.key();
        if model.ignores[..index].iter().any(|earlier| earlier.key() == key) {
            cx.error_on(ignored.tokens(), format_args!("event `{key}` is ignored twice"));
        }
    }
}
