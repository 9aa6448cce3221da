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

pub fn expand(input: &DeriveInput, kind: Kind) -> TokenStream {
    let cx = Ctxt::new();
    let model = model::EnvelopeEnum::lower(&cx, input, kind);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    cx.finish(
        || model.as_ref().map(expand::expand).unwrap_or_default(),
        || if input.generics.params.is_empty() { expand::fallback(&input.ident, kind) } else { TokenStream::new() },
    )
}
