//! `#[derive(Event)]`: lower the enum into a model, check it, generate the impls.

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = model::EventEnum::lower(&cx, input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    match cx.check() {
        Ok(()) => Ok(model.map(|model| expand::expand(&model)).unwrap_or_default()),
        // With errors, the impls are still emitted from what could be read (without a second
        // impl for a payload wrapped twice), so that code using the enum does not report
        // their absence as well: one mistake, one error.
        Err(errors) => {
            let errors = errors.into_compile_error();
            // Only when every variant was read: the generated matches must be exhaustive.
            let recovered = model
                .filter(|model| input.generics.params.is_empty() && model.declared > 0)
                .filter(|model| model.variants.len() == model.declared)
                .map(|model| expand::recovered(&model));
            Ok(quote::quote!(#errors #recovered))
        }
    }
}
