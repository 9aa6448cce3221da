//! The seed's `{"type": ..., "data": ...}` envelopes: `#[derive(CommandEnvelope)]` (or
//! `#[derive(Command)]` on an enum) and `#[derive(QueryEnvelope)]` on an enum whose variants
//! each wrap one command or query struct. One lowering, one check and one expansion for both;
//! only what a decoded message is routed to differs.

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;
pub use model::Kind;

pub fn expand(input: &DeriveInput, kind: Kind) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = model::EnvelopeEnum::lower(&cx, input, kind);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    match cx.check() {
        Ok(()) => Ok(model.map(|model| expand::expand(&model)).unwrap_or_default()),
        Err(errors) => {
            let errors = errors.into_compile_error();
            let fallback = input.generics.params.is_empty().then(|| expand::fallback(&input.ident, kind));
            Ok(quote::quote!(#errors #fallback))
        }
    }
}
