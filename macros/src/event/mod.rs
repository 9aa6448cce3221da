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
    cx.check()?;
    // Lowering reports an error whenever it returns no model.
    Ok(model.map(|model| expand::expand(&model)).unwrap_or_default())
}
