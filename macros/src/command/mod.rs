//! `#[derive(Command)]`: a command struct routed to its aggregate, or an enum of commands
//! decoded from the seed's `{"type", "data"}` envelope.

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = model::CommandItem::lower(&cx, input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    cx.check()?;
    Ok(model.map(|model| expand::expand(&model)).unwrap_or_default())
}
