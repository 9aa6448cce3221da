//! Code generation for `#[projection]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{Applied, Form, ProjectionApply, ProjectionImpl, QueryHandler};
use crate::naming::{self, located};

pub fn expand(model: &ProjectionImpl<'_>) -> TokenStream {
    if model.documents.is_some() {
        return super::documents::expand(model);
    }
    if model.sql.is_some() {
        return super::sql::expand(model);
    }
    let projection = projection_impl(model);
    let queries = model.queries.iter().map(|query| query_impl(model, query));
    quote! {
        const _: () = {
            #projection
            #(#queries)*
        };
    }
}

/// What is emitted for a projection with errors: a `Projection` (or, for a document
/// projection, a `DocumentProjection`) impl that consumes nothing, so that the errors
/// reported are the user's mistakes and not their consequences.
pub fn fallback(self_ty: &syn::Type, name: Option<&syn::LitStr>, form: Form) -> TokenStream {
    let name = name.map_or_else(String::new, syn::LitStr::value);
    if form == Form::Sql {
        return super::sql::fallback(self_ty, &name);
    }
    if form == Form::Documents {
        return quote! {
            impl ::eventsmith::__private::DocumentProjection for #self_ty {
                const NAME: &'static str = #name;
                type Events = ();
                const INDEXED: &'static [&'static str] = &[];
                fn initial() -> Self {
                    ::core::unreachable!("a projection with errors is never compiled")
                }
                fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                    ::eventsmith::__private::Vec::new()
                }
                fn route(
                    _: ::eventsmith::__private::LogEvent<'_>,
                ) -> ::core::result::Result<
                    ::core::option::Option<::eventsmith::__private::Routed<Self>>,
                    ::eventsmith::__private::ApplyError,
                > {
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
            }
        };
    }
    quote! {
        impl ::eventsmith::__private::Projection for #self_ty {
            const NAME: &'static str = #name;
            type Events = ();
            fn initial() -> Self {
                ::core::unreachable!("a projection with errors is never compiled")
            }
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
pub fn events_tuple(model: &ProjectionImpl<'_>) -> TokenStream {
    let events = &model.events;
    quote!((#(#events,)*))
}

fn projection_impl(model: &ProjectionImpl<'_>) -> TokenStream {
    let (self_ty, name) = (model.self_ty, &model.name);
    let events = events_tuple(model);
    let stored = model.applies.iter().map(|apply| stored_as(model, apply, &events));
    let catalog = catalog_items(model, &events);
    let arms = model.applies.iter().map(|apply| apply_arm(model, apply, &events));
    let overlaps = overlap_checks(model);
    // Spanned at the read model's type: a model without `Default` is one error there.
    let initial =
        quote_spanned!(located(self_ty.span())=> <Self as ::eventsmith::__private::InitialModel>::initial_model());
    let persist = model.persist.as_ref().map(|persist| {
        // Spanned at `persist`: a read model without `Serialize` or `Deserialize` is one
        // error there.
        let model = quote_spanned!(located(persist.span())=> <Self as ::eventsmith::__private::PersistedModel>);
        let save = quote!(#model::save_model(self));
        let restore = quote!(#model::restore_model(state));
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
    let attributes = naming::impl_attributes();
    quote! {
        #attributes
        impl ::eventsmith::__private::Projection for #self_ty {
            const NAME: &'static str = #name;
            type Events = #events;

            #[inline]
            fn initial() -> Self {
                #initial
            }

            fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                #overlaps
                let mut types = ::eventsmith::__private::Vec::new();
                #(types.extend_from_slice(#stored.names);)*
                types
            }

            fn apply_event(
                &mut self,
                event: ::eventsmith::__private::LogEvent<'_>,
            ) -> ::core::result::Result<bool, ::eventsmith::__private::ApplyError> {
                #overlaps
                #(#arms)*
                ::core::result::Result::Ok(false)
            }

            #persist
            #catalog
        }
    }
}

/// The items every form of projection has for the catalog: how the events of its `#[apply]`
/// methods are stored, and the queries it answers with their answers' types.
pub fn catalog_items(model: &ProjectionImpl<'_>, events: &TokenStream) -> TokenStream {
    let stored = model.applies.iter().map(|apply| stored_as(model, apply, events));
    // The same checks as the other items that name the `#[apply]` events, in the same body,
    // so that an event in two enums is one error and not also an inference failure.
    let overlaps = overlap_checks(model);
    let queries = model.queries.iter().map(|query| {
        let query_ty = query.query;
        let answer = crate::sig::self_replaced(query.answer.unwrap_or(query.output), model.self_ty);
        quote!(::eventsmith::__private::QueryEntry::of::<#query_ty, #answer>())
    });
    quote! {
        fn applies() -> ::eventsmith::__private::Vec<::eventsmith::__private::StoredAs> {
            #overlaps
            ::eventsmith::__private::Vec::from([#(#stored),*])
        }

        fn queries() -> ::eventsmith::__private::Vec<::eventsmith::__private::QueryEntry> {
            ::eventsmith::__private::Vec::from([#(#queries),*])
        }
    }
}

/// For an `#[apply]` that leaves its enum to inference, a check per pair of the projection's
/// enums that the pair does not both wrap its struct: reported with the fix, where inference
/// would only say it is ambiguous.
pub fn overlap_checks(model: &ProjectionImpl<'_>) -> TokenStream {
    let mut checks = TokenStream::new();
    for apply in model.applies.iter().filter(|apply| apply.from.is_none()) {
        let member = apply.event.member_type();
        for (index, first) in model.events.iter().enumerate() {
            for second in &model.events[index + 1..] {
                checks.extend(quote_spanned! {apply.event.tokens().span()=>
                    <_ as ::eventsmith::__private::OneEnum<#member, #first, #second>>::accept(
                        (&&::eventsmith::__private::Pair::<#member, #first, #second>::NEW).overlap(),
                    );
                });
            }
        }
    }
    if checks.is_empty() {
        return checks;
    }
    quote! {
        #[allow(unused_imports)]
        use ::eventsmith::__private::{NoOverlap as _, Overlap as _};
        #checks
    }
}

fn apply_arm(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, events: &TokenStream) -> TokenStream {
    let member = apply.event.member_type();
    let index = index_of(model, apply);
    let stored = stored_as(model, apply, events);
    let outcome = outcome(model, apply, &quote!(self));
    quote! {
        if #stored.matches(&event) {
            return ::eventsmith::__private::apply_member::<#member, #events, #index>(event, |__recorded| #outcome);
        }
    }
}

/// The call of an `#[apply]` method on `receiver` with the `__recorded` event, as the
/// `Result<(), String>` that stops the projection on an error.
pub fn outcome(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, receiver: &TokenStream) -> TokenStream {
    let (self_ty, method) = (model.self_ty, apply.method);
    let call = match &apply.event {
        Applied::Struct(_) => quote!(#self_ty::#method(#receiver, __recorded)),
        Applied::Unit(_) => quote!(#self_ty::#method(#receiver, &::eventsmith::__private::unit_recorded(__recorded))),
    };
    if let Some(output) = apply.output {
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
    }
}

/// The `Idx` of the enum an `#[apply]` takes its event from: given by `#[apply(Enum)]`, or
/// left to type inference (which finds the one enum that wraps the struct).
pub fn index_of(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>) -> TokenStream {
    match apply.from.as_ref().and_then(|from| model.enum_index(from)) {
        Some(index) => quote!(::eventsmith::__private::Idx<#index>),
        None => quote!(_),
    }
}

/// How an `#[apply]`'s event is stored (names, aliases and namespace). Spanned at the
/// event's type, and the same tokens wherever it is used: an event outside the declared
/// enums is reported there, once.
pub fn stored_as(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, events: &TokenStream) -> TokenStream {
    let member = apply.event.member_type();
    let index = index_of(model, apply);
    quote_spanned!(apply.event.tokens().span()=> <#member as ::eventsmith::__private::Member<#events, #index>>::STORED_AS)
}

fn query_impl(model: &ProjectionImpl<'_>, query: &QueryHandler<'_>) -> TokenStream {
    let self_ty = model.self_ty;
    let (method, query_ty) = (query.method, query.query);
    let output = crate::sig::self_replaced(query.output, self_ty);
    let argument = if query.by_ref { quote!(&self) } else { quote!(self) };
    // Spanned at the query type: a query answered by two projections conflicts there.
    let attributes = naming::impl_attributes();
    quote_spanned! {located(query_ty.span())=>
        #attributes
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
