//! Semantic checks of a command struct or enum. Emits no tokens.

use quote::ToTokens;

use super::model::{CommandEnum, CommandItem, CommandStruct};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, model: &CommandItem<'_>) {
    match model {
        CommandItem::Struct(command) => check_id(cx, command),
        CommandItem::Enum(commands) => check_names(cx, commands),
    }
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

/// Two variants under one type name could not be told apart when decoding.
fn check_names(cx: &Ctxt, commands: &CommandEnum<'_>) {
    if commands.variants.is_empty() {
        cx.error_on(commands.ident, "a command enum needs at least one variant");
    }
    for (index, variant) in commands.variants.iter().enumerate() {
        if let Some(first) = commands.variants[..index].iter().find(|earlier| earlier.name == variant.name) {
            let token = |v: &super::model::CommandVariant<'_>| {
                v.name_lit.as_ref().map_or_else(|| v.ident.to_token_stream(), ToTokens::to_token_stream)
            };
            cx.error_on(
                token(variant),
                format_args!("duplicate command name `{}`; rename one with `#[command(name = \"...\")]`", variant.name),
            );
            cx.error_on(token(first), format_args!("`{}` is first used here", first.name));
        }
    }
}
