//! Semantic checks of an enum of messages. Emits no tokens.

use quote::ToTokens;

use super::model::{EnvelopeEnum, EnvelopeVariant};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, model: &EnvelopeEnum<'_>) {
    let noun = model.kind.noun();
    if model.declared == 0 {
        cx.error_on(model.ident, format_args!("an enum of {noun} structs needs at least one variant"));
    }
    // Two variants decoded from one type name could not be told apart.
    for (index, variant) in model.variants.iter().enumerate() {
        if let Some(first) = model.variants[..index].iter().find(|earlier| earlier.name == variant.name) {
            cx.error_on(
                name_token(variant),
                format_args!(
                    "duplicate {noun} name `{}`; rename one with `#[{}(name = \"...\")]`",
                    variant.name,
                    model.kind.attribute()
                ),
            );
            cx.error_on(name_token(first), format_args!("`{}` is first used here", first.name));
        }
    }
}

/// The token a name comes from: the `name = "..."` literal, or the variant's ident.
fn name_token(variant: &EnvelopeVariant<'_>) -> proc_macro2::TokenStream {
    variant.name_lit.as_ref().map_or_else(|| variant.ident.to_token_stream(), ToTokens::to_token_stream)
}
