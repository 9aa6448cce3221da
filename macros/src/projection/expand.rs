//! Code generation for `#[projection]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{Applied, ProjectionApply, ProjectionImpl, QueryHandler};
use crate::naming::located;

pub fn expand(model: &ProjectionImpl<'_>) -> TokenStream {
    let projection = projection_impl(model);
    let queries = model.queries.iter().map(|query| query_impl(model, query));
    quote! {
        const _: () = {
            #projection
            #(#queries)*
        };
    }
}

/// What is emitted for a projection with errors: a `Projection` impl that consumes nothing,
/// so that the errors reported are the user's mistakes and not their consequences.
pub fn fallback(self_ty: &syn::Type, name: Option<&syn::LitStr>) -> TokenStream {
    let name = name.map_or_else(String::new, syn::LitStr::value);
    quote! {
        impl ::eventsmith::__private::Projection for #self_ty {
            const NAME: &'static str = #name;
            type Events = ();
            fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                ::eventsmith::__private::Vec::new()
            }
            fn apply_event(
                &mut self,
                _: ::eventsmith::__private::LogEvent<'_>,
            ) -> ::core::result::Result<bool, ::eventsmith::__private::ApplyError> {
                ::core::result::Result::Ok(false)
            }
        }
    }
}

/// The tuple of event enums, the `Events` parameter of `Member`.
fn events_tuple(model: &ProjectionImpl<'_>) -> TokenStream {
    let events = &model.events;
    quote!((#(#events,)*))
}

fn projection_impl(model: &ProjectionImpl<'_>) -> TokenStream {
    let (self_ty, name) = (model.self_ty, &model.name);
    let events = events_tuple(model);
    let stored = model.applies.iter().map(|apply| stored_as(model, apply, &events));
    let arms = model.applies.iter().map(|apply| apply_arm(model, apply, &events));
    let persist = model.persist.as_ref().map(|persist| {
        let span = located(persist.span());
        let save = quote_spanned!(span=> ::eventsmith::__private::serde_json::to_vec(self));
        let restore = quote_spanned!(span=> ::eventsmith::__private::serde_json::from_slice(state));
        quote! {
            const PERSIST: bool = true;

            fn save_state(
                &self,
            ) -> ::core::option::Option<
                ::core::result::Result<::eventsmith::__private::Vec<u8>, ::eventsmith::__private::serde_json::Error>,
            > {
                ::core::option::Option::Some(#save)
            }

            fn restore_state(state: &[u8]) -> ::core::result::Result<Self, ::eventsmith::__private::serde_json::Error> {
                #restore
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl ::eventsmith::__private::Projection for #self_ty {
            const NAME: &'static str = #name;
            type Events = #events;

            fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                let mut types = ::eventsmith::__private::Vec::new();
                #(types.extend_from_slice(#stored.names);)*
                types
            }

            fn apply_event(
                &mut self,
                event: ::eventsmith::__private::LogEvent<'_>,
            ) -> ::core::result::Result<bool, ::eventsmith::__private::ApplyError> {
                #(#arms)*
                ::core::result::Result::Ok(false)
            }

            #persist
        }
    }
}

fn apply_arm(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, events: &TokenStream) -> TokenStream {
    let (self_ty, method) = (model.self_ty, apply.method);
    let member = apply.event.member_type();
    let index = index_of(model, apply);
    let stored = stored_as(model, apply, events);
    let call = match &apply.event {
        Applied::Struct(_) => quote!(#self_ty::#method(self, __recorded)),
        Applied::Unit(_) => quote!(#self_ty::#method(self, &::eventsmith::__private::unit_recorded(__recorded))),
    };
    let outcome = if let Some(output) = apply.output {
        // The outcome is named with the return type's span, so a wrong type is reported there.
        quote_spanned!(located(output.span())=> {
            let __outcome = #call;
            ::eventsmith::__private::ApplyOutcome::into_outcome(__outcome)
        })
    } else {
        quote!({
            #call;
            ::core::result::Result::Ok(())
        })
    };
    quote! {
        if #stored.matches(&event) {
            return ::eventsmith::__private::apply_member::<#member, #events, #index>(event, |__recorded| #outcome);
        }
    }
}

/// The `Idx` of the enum an `#[apply]` takes its event from: given by `#[apply(Enum)]`, or
/// left to type inference (which finds the one enum that wraps the struct).
fn index_of(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>) -> TokenStream {
    match apply.from.as_ref().and_then(|from| model.enum_index(from)) {
        Some(index) => quote!(::eventsmith::__private::Idx<#index>),
        None => quote!(_),
    }
}

/// How an `#[apply]`'s event is stored (names, aliases and namespace). Spanned at the
/// event's type, and the same tokens wherever it is used: an event outside the declared
/// enums is reported there, once.
fn stored_as(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, events: &TokenStream) -> TokenStream {
    let member = apply.event.member_type();
    let index = index_of(model, apply);
    quote_spanned!(apply.event.tokens().span()=> ::eventsmith::__private::stored_as::<#member, #events, #index>())
}

fn query_impl(model: &ProjectionImpl<'_>, query: &QueryHandler<'_>) -> TokenStream {
    let self_ty = model.self_ty;
    let (method, query_ty, output) = (query.method, query.query, query.output);
    let argument = if query.by_ref { quote!(&self) } else { quote!(self) };
    // Spanned at the query type: a query answered by two projections conflicts there.
    quote_spanned! {located(query_ty.span())=>
        #[automatically_derived]
        impl ::eventsmith::__private::Query for #query_ty {
            type Projection = #self_ty;
            type Output = #output;

            #[inline]
            fn answer(self, model: &#self_ty) -> #output {
                #self_ty::#method(model, #argument)
            }
        }
    }
}
