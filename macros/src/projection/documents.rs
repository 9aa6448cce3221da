//! Code generation for a document projection (`#[projection(..., documents)]`): the
//! `DocumentProjection` impl, which routes each event to the document it updates and applies
//! the `#[apply]` method to that document.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::expand::{catalog_items, events_tuple, index_of, outcome, overlap_checks, stored_as};
use super::model::{ProjectionApply, ProjectionImpl, QueryHandler};
use crate::naming::{self, located};
use crate::sig::self_replaced;

pub fn expand(model: &ProjectionImpl<'_>) -> TokenStream {
    let (self_ty, name) = (model.self_ty, &model.name);
    let events = events_tuple(model);
    let stored = model.applies.iter().map(|apply| stored_as(model, apply, &events));
    let catalog = catalog_items(model, &events);
    let arms = model.applies.iter().map(|apply| route_arm(model, apply, &events));
    let overlaps = overlap_checks(model);
    let fields = model.documents.as_ref().map(|documents| documents.indexed.as_slice()).unwrap_or_default();
    let indexed = fields.iter().map(ToString::to_string);
    // Each indexed field read from the document, at the user's token: a field the document
    // does not have is rustc's "no field" error there.
    let field_checks = fields.iter().map(|field| quote_spanned!(field.span()=> let _ = &__document.#field;));
    // Spanned at the document's type: a document without `Default` is one error there.
    let initial =
        quote_spanned!(located(self_ty.span())=> <Self as ::eventsmith::__private::InitialModel>::initial_model());
    let attributes = naming::impl_attributes();
    let queries = model.queries.iter().map(|query| query_impl(model, query));
    quote! {
        const _: () = {
            #(#queries)*
            #attributes
            impl ::eventsmith::__private::DocumentProjection for #self_ty {
                const NAME: &'static str = #name;
                type Events = #events;
                const INDEXED: &'static [&'static str] = &[#(#indexed),*];

                #[inline]
                fn initial() -> Self {
                    #initial
                }

                fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                    #overlaps
                    let _ = |__document: &Self| { #(#field_checks)* };
                    let mut types = ::eventsmith::__private::Vec::new();
                    #(types.extend_from_slice(#stored.names);)*
                    types
                }

                fn route(
                    event: ::eventsmith::__private::LogEvent<'_>,
                ) -> ::core::result::Result<
                    ::core::option::Option<::eventsmith::__private::Routed<Self>>,
                    ::eventsmith::__private::ApplyError,
                > {
                    #(#arms)*
                    ::core::result::Result::Ok(::core::option::Option::None)
                }

                #catalog
            }
        };
    }
}

/// Routes an event of one `#[apply]` to its document: the key (the stream's aggregate id,
/// or `key = ...` over `event`), and the method applied to the document.
fn route_arm(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, events: &TokenStream) -> TokenStream {
    let member = apply.event.member_type();
    let index = index_of(model, apply);
    let stored = stored_as(model, apply, events);
    let outcome = outcome(model, apply, &quote!(__document));
    // The key expression is the user's, naming `event`: the closure's parameter resolves
    // where the user wrote it.
    let event = syn::Ident::new("event", Span::call_site());
    let key = match &apply.key {
        Some(expression) => quote_spanned! {expression.span()=>
            ::eventsmith::__private::DocumentKey::document_key(&(#expression))
        },
        None => quote! {
            ::std::string::ToString::to_string(::eventsmith::__private::default_key(&#event.stream_id))
        },
    };
    quote! {
        if #stored.matches(&event) {
            return ::eventsmith::__private::route_member::<#member, #events, #index, Self>(
                event,
                |#event| #key,
                |__document, __recorded| #outcome,
            );
        }
    }
}

/// A `#[query] async fn` answered from the projection's documents: the `DocumentQuery` impl
/// of its query type.
fn query_impl(model: &ProjectionImpl<'_>, query: &QueryHandler<'_>) -> TokenStream {
    let self_ty = model.self_ty;
    let (method, query_ty) = (query.method, query.query);
    let argument = if query.by_ref { quote!(&self) } else { quote!(self) };
    // At the return type: one that is not `Result<_, DocumentError>` is reported there.
    // The `T` of the method's `Result<T, DocumentError>`; the result itself is checked at
    // the return type.
    let answer = self_replaced(query.answer.unwrap_or(query.output), self_ty);
    let result = quote_spanned!(located(query.output.span())=>
        let answer: ::core::result::Result<#answer, ::eventsmith::__private::DocumentError> =
            #self_ty::#method(documents, #argument).await;
        answer
    );
    let attributes = naming::impl_attributes();
    // Spanned at the query type: a query answered by two projections conflicts there.
    quote_spanned! {located(query_ty.span())=>
        #attributes
        impl ::eventsmith::__private::DocumentQuery for #query_ty {
            type Projection = #self_ty;
            type Output = #answer;

            fn answer(
                self,
                documents: &::eventsmith::__private::Documents<#self_ty>,
            ) -> ::eventsmith::__private::BoxFuture<
                '_,
                ::core::result::Result<Self::Output, ::eventsmith::__private::DocumentError>,
            > {
                ::eventsmith::__private::Box::pin(async move { #result })
            }
        }
    }
}
