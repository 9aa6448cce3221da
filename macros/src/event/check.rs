//! Semantic checks of an event enum. Emits no tokens.

use quote::ToTokens;

use super::model::{EventEnum, Variant};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, model: &EventEnum<'_>) {
    if model.declared == 0 {
        cx.error_on(model.ident, "an event enum needs at least one variant, one per event type");
    }
    check_unique_names(cx, model);
    check_unique_payloads(cx, model);
}

/// Two variants stored under one name could not be told apart when decoding.
fn check_unique_names(cx: &Ctxt, model: &EventEnum<'_>) {
    for (index, variant) in model.variants.iter().enumerate() {
        if let Some(first) = model.variants[..index].iter().find(|earlier| earlier.name == variant.name) {
            let fix = "give one of them another name with `#[event(name = \"...\")]`";
            cx.error_on(name_token(variant), format_args!("duplicate event name `{}`; {fix}", variant.name));
            cx.error_on(name_token(first), format_args!("`{}` is first used here", first.name));
        }
    }
}

/// One struct in two variants would make `From<Struct>` and the fold ambiguous.
fn check_unique_payloads(cx: &Ctxt, model: &EventEnum<'_>) {
    let key = |variant: &Variant<'_>| variant.payload.map(|ty| ty.to_token_stream().to_string());
    for (index, variant) in model.variants.iter().enumerate() {
        let Some(payload) = key(variant) else { continue };
        if let Some(first) = model.variants[..index].iter().find(|earlier| key(earlier).as_ref() == Some(&payload)) {
            cx.error_on(
                variant.payload,
                format_args!(
                    "`{payload}` is already wrapped by variant `{}`; each event type is one struct \
                     in one variant, so give this variant a struct of its own",
                    first.ident
                ),
            );
            cx.error_on(first.payload, format_args!("`{payload}` is first wrapped here"));
        }
    }
}

/// The token a name comes from: the `name = "..."` literal, or the variant's ident.
fn name_token(variant: &Variant<'_>) -> proc_macro2::TokenStream {
    variant.name_lit.as_ref().map_or_else(|| variant.ident.to_token_stream(), ToTokens::to_token_stream)
}
