//! `#[derive(Event)]`: lower the enum into a model, check it, generate the impls.

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

pub fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let model = model::EventEnum::lower(&cx, input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    cx.finish(
        || model.as_ref().map(expand::expand).unwrap_or_default(),
        // The impls from what could be read (without a second impl for a payload wrapped
        // twice); only when every variant was read, since the generated matches must be
        // exhaustive.
        || {
            model
                .as_ref()
                .filter(|model| input.generics.params.is_empty() && model.declared > 0)
                .filter(|model| model.variants.len() == model.declared)
                .map(expand::recovered)
                .unwrap_or_default()
        },
    )
}
