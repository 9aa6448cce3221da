//! `#[aggregate(...)]` on an impl block: the `Aggregate` impl, one `Apply` impl per
//! `#[apply]` method or ignored event, one `Handle` impl per `#[command]` method.

mod check;
mod expand;
mod model;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::ctxt::Ctxt;

pub fn expand(args: TokenStream, item: ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    let model = model::AggregateImpl::lower(&cx, args, &item);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    let generated = cx.finish(
        || model.as_ref().map(expand::expand).unwrap_or_default(),
        || {
            let types = model.as_ref().map(|model| (&model.event, &model.error));
            if item.trait_.is_none() && item.generics.params.is_empty() {
                expand::fallback(&item.self_ty, types)
            } else {
                TokenStream::new()
            }
        },
    );
    // The user's impl is emitted even when there are errors, so that its methods still
    // exist and one mistake does not cause a cascade of others.
    let item = model::strip_markers(item);
    quote! {
        #item
        #generated
    }
}
