//! `#[projection(...)]` on a read model's impl block: the `Projection` impl with the typed
//! dispatch to its `#[apply]` methods, and a `Query` impl per `#[query]` method.

mod check;
mod documents;
mod expand;
mod model;
mod query;
mod sql;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::ctxt::Ctxt;

pub fn expand(args: TokenStream, item: ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    let model = model::ProjectionImpl::lower(&cx, args, &item);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    let generated = cx.finish(
        || model.as_ref().map(expand::expand).unwrap_or_default(),
        || {
            let name = model.as_ref().map(|model| &model.name);
            let form = model.as_ref().map_or(model::Form::Memory, model::ProjectionImpl::form);
            if item.trait_.is_none() && item.generics.params.is_empty() {
                expand::fallback(&item.self_ty, name, form)
            } else {
                TokenStream::new()
            }
        },
    );
    // The user's impl is emitted even when there are errors, so that its methods still exist.
    let item = model::strip_markers(item);
    quote! {
        #item
        #generated
    }
}
