//! `#[derive(Command)]` on a command struct: routed to its aggregate. (On an enum of commands
//! it derives the envelope, `crate::envelope`.)

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    if matches!(input.data, syn::Data::Enum(_)) {
        return crate::envelope::expand(input, crate::envelope::Kind::Commands);
    }
    let cx = Ctxt::new();
    let model = model::CommandStruct::lower(&cx, input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    match cx.check() {
        Ok(()) => Ok(model.map(|model| expand::expand(&model)).unwrap_or_default()),
        Err(errors) => {
            let errors = errors.into_compile_error();
            let fallback = input
                .generics
                .params
                .is_empty()
                .then(|| expand::fallback(&input.ident, model.as_ref().map(|model| &model.aggregate)));
            Ok(quote::quote!(#errors #fallback))
        }
    }
}
