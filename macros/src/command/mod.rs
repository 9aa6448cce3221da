//! `#[derive(Command)]` on a command struct: routed to its aggregate. (On an enum of commands
//! it derives the envelope, `crate::envelope`.)

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

pub fn expand(input: &DeriveInput) -> TokenStream {
    if matches!(input.data, syn::Data::Enum(_)) {
        return crate::envelope::expand(input, crate::envelope::Kind::Commands);
    }
    let cx = Ctxt::new();
    let model = model::CommandStruct::lower(&cx, input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    cx.finish(
        || model.as_ref().map(expand::expand).unwrap_or_default(),
        || {
            let aggregate = model.as_ref().map(|model| &model.aggregate);
            if input.generics.params.is_empty() {
                expand::fallback(&input.ident, aggregate)
            } else {
                TokenStream::new()
            }
        },
    )
}
