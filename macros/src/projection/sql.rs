//! Code generation for a SQL projection (`#[projection(..., sql(migrations = [...]))]`): the
//! `SqlProjection` impl, which binds each event to its `#[apply]` method for the batch's
//! transaction, a `SqlQuery` impl per `#[query]`, and the `StoredProjection` impl that
//! `App::wait_for` reads its checkpoint through.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::expand::{catalog_items, events_tuple, index_of, overlap_checks, stored_as};
use super::model::{Applied, ProjectionApply, ProjectionImpl, QueryHandler};
use crate::naming::{self, located};
use crate::sig::self_replaced;

pub fn expand(model: &ProjectionImpl<'_>) -> TokenStream {
    let (self_ty, name) = (model.self_ty, &model.name);
    let events = events_tuple(model);
    let stored = model.applies.iter().map(|apply| stored_as(model, apply, &events));
    let catalog = catalog_items(model, &events);
    let arms = model.applies.iter().map(|apply| apply_arm(model, apply, &events));
    let overlaps = overlap_checks(model);
    let migrations = model.sql.as_ref().map(|tables| tables.migrations.as_slice()).unwrap_or_default();
    // Each at the user's expression: one that is not a `&'static str` is reported there.
    let migrations = migrations.iter().map(|migration| {
        quote_spanned!(migration.span()=> {
            let migration: &'static str = #migration;
            migration
        })
    });
    let attributes = naming::impl_attributes();
    let queries = model.queries.iter().map(|query| query_impl(model, query));
    let stored_projection = stored_projection(self_ty, name);
    quote! {
        const _: () = {
            #(#queries)*
            #attributes
            impl ::eventsmith::__private::SqlProjection for #self_ty {
                const NAME: &'static str = #name;
                type Events = #events;
                const MIGRATIONS: &'static [&'static str] = &[#(#migrations),*];

                fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                    #overlaps
                    let mut types = ::eventsmith::__private::Vec::new();
                    #(types.extend_from_slice(#stored.names);)*
                    types
                }

                fn route(
                    event: ::eventsmith::__private::LogEvent<'_>,
                ) -> ::core::result::Result<
                    ::core::option::Option<::eventsmith::__private::SqlApply>,
                    ::eventsmith::__private::ApplyError,
                > {
                    #(#arms)*
                    ::core::result::Result::Ok(::core::option::Option::None)
                }

                #catalog
            }
            #stored_projection
        };
    }
}

/// The `StoredProjection` impl of a SQL projection (a document projection has one from a
/// blanket impl).
pub fn stored_projection(self_ty: &syn::Type, name: &syn::LitStr) -> TokenStream {
    let attributes = naming::impl_attributes();
    quote! {
        #attributes
        impl ::eventsmith::__private::StoredProjection for #self_ty {
            const NAME: &'static str = #name;

            fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                <Self as ::eventsmith::__private::SqlProjection>::event_types()
            }

            fn reached(
                app: &::eventsmith::__private::App,
            ) -> ::eventsmith::__private::BoxFuture<'_, ::core::result::Result<u64, ::eventsmith::__private::Error>> {
                ::eventsmith::__private::sql_reached::<Self>(app)
            }

            fn stopped(
                app: &::eventsmith::__private::App,
            ) -> ::core::option::Option<::std::sync::Arc<::eventsmith::__private::ProjectionStopped>> {
                ::eventsmith::__private::sql_stopped::<Self>(app)
            }
        }
    }
}

/// Binds an event of one `#[apply]` to its method, through a function of the exact
/// signature the runtime calls: the method's future, boxed.
fn apply_arm(model: &ProjectionImpl<'_>, apply: &ProjectionApply<'_>, events: &TokenStream) -> TokenStream {
    let (self_ty, method) = (model.self_ty, apply.method);
    let member = apply.event.member_type();
    let index = index_of(model, apply);
    let stored = stored_as(model, apply, events);
    // At the return type: a method that does not return `Result<(), SqlError>` is reported
    // there.
    let output = located(apply.output.map_or_else(|| apply.method.span(), Spanned::span));
    let call = match &apply.event {
        Applied::Struct(_) => quote_spanned!(output=> #self_ty::#method(sql, __recorded).await),
        Applied::Unit(_) => quote_spanned!(output=> {
            let __unit = ::eventsmith::__private::unit_recorded(__recorded);
            #self_ty::#method(sql, &__unit).await
        }),
    };
    let outcome = quote_spanned!(output=>
        let __outcome: ::core::result::Result<(), ::eventsmith::__private::SqlError> = #call;
        __outcome
    );
    quote! {
        if #stored.matches(&event) {
            fn __apply<'t, 'c>(
                sql: &'t mut ::eventsmith::__private::Sql<'c>,
                __recorded: &'t ::eventsmith::__private::Recorded<#member>,
            ) -> ::eventsmith::__private::BoxFuture<
                't,
                ::core::result::Result<(), ::eventsmith::__private::SqlError>,
            > {
                ::eventsmith::__private::Box::pin(async move { #outcome })
            }
            return ::eventsmith::__private::route_sql_member::<#member, #events, #index>(event, __apply);
        }
    }
}

/// A `#[query] async fn` answered from the projection's tables: the `SqlQuery` impl of its
/// query type.
fn query_impl(model: &ProjectionImpl<'_>, query: &QueryHandler<'_>) -> TokenStream {
    let self_ty = model.self_ty;
    let (method, query_ty) = (query.method, query.query);
    let argument = if query.by_ref { quote!(&self) } else { quote!(self) };
    let answer = self_replaced(query.answer.unwrap_or(query.output), self_ty);
    // At the return type: one that is not `Result<_, SqlError>` is reported there.
    let result = quote_spanned!(located(query.output.span())=>
        let answer: ::core::result::Result<#answer, ::eventsmith::__private::SqlError> =
            #self_ty::#method(sql, #argument).await;
        answer
    );
    let attributes = naming::impl_attributes();
    // Spanned at the query type: a query answered by two projections conflicts there.
    quote_spanned! {located(query_ty.span())=>
        #attributes
        impl ::eventsmith::__private::SqlQuery for #query_ty {
            type Projection = #self_ty;
            type Output = #answer;

            fn answer<'t>(
                self,
                sql: &'t mut ::eventsmith::__private::Sql<'_>,
            ) -> ::eventsmith::__private::BoxFuture<
                't,
                ::core::result::Result<Self::Output, ::eventsmith::__private::SqlError>,
            > {
                ::eventsmith::__private::Box::pin(async move { #result })
            }
        }
    }
}

/// What is emitted for a SQL projection with errors: a `SqlProjection` that consumes
/// nothing, so that the errors reported are the user's mistakes and not their consequences.
pub fn fallback(self_ty: &syn::Type, name: &str) -> TokenStream {
    let name = syn::LitStr::new(name, proc_macro2::Span::call_site());
    let stored_projection = stored_projection(self_ty, &name);
    quote! {
        impl ::eventsmith::__private::SqlProjection for #self_ty {
            const NAME: &'static str = #name;
            type Events = ();
            const MIGRATIONS: &'static [&'static str] = &[];
            fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
                ::eventsmith::__private::Vec::new()
            }
            fn route(
                _: ::eventsmith::__private::LogEvent<'_>,
            ) -> ::core::result::Result<
                ::core::option::Option<::eventsmith::__private::SqlApply>,
                ::eventsmith::__private::ApplyError,
            > {
                ::core::result::Result::Ok(::core::option::Option::None)
            }
        }
        #stored_projection
    }
}
