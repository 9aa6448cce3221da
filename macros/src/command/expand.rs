//! Code generation for `#[derive(Command)]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{CommandStruct, Expect};
use crate::naming::{self, located};

pub fn expand(command: &CommandStruct<'_>) -> TokenStream {
    let (ident, aggregate) = (command.ident, &command.aggregate);
    let Some(id) = command.ids.first() else {
        return TokenStream::new();
    };
    let member = &id.member;
    // Spanned at the id field's type, so a type without `Display` is reported there.
    let id_ty = id.ty;
    let aggregate_id = quote_spanned! {located(id.ty.span())=>
        <#id_ty as ::eventsmith::__private::AggregateId>::to_id(&self.#member)
    };
    let expect = match command.expect {
        Expect::Any => quote!(Any),
        Expect::New => quote!(New),
        Expect::Existing => quote!(Existing),
    };
    let aggregate_ty = quote_spanned!(aggregate.span()=> #aggregate);
    // Spanned at `aggregate = ...`: a handler on another aggregate is reported as a bound of
    // the user's routing, not of a derive.
    let command_for = quote_spanned!(aggregate.span()=> ::eventsmith::__private::CommandFor<__A>);
    let routed = quote_spanned!(aggregate.span()=> (): ::eventsmith::__private::RoutedTo<#aggregate_ty, __A, #ident>);
    let attributes = naming::impl_attributes();
    quote! {
        const _: () = {
            #attributes
            impl ::eventsmith::__private::Command for #ident {
                type Aggregate = #aggregate_ty;
                const EXPECT: ::eventsmith::__private::ExpectStream = ::eventsmith::__private::ExpectStream::#expect;

                #[inline]
                fn aggregate_id(&self) -> ::eventsmith::__private::String {
                    #aggregate_id
                }
            }

            #[automatically_derived]
            impl<__A> #command_for for #ident
            where
                #routed,
            {
                const EXPECT: ::eventsmith::__private::ExpectStream = ::eventsmith::__private::ExpectStream::#expect;
            }
        };
    }
}

/// What is emitted for a command with errors: impls with no behaviour, so that the errors
/// reported are the user's mistakes and not their consequences in the handlers that take it.
pub fn fallback(ident: &syn::Ident, aggregate: Option<&syn::Path>) -> TokenStream {
    let Some(aggregate) = aggregate else {
        return quote! {
            impl<__A> ::eventsmith::__private::CommandFor<__A> for #ident {}
        };
    };
    quote! {
        impl ::eventsmith::__private::Command for #ident {
            type Aggregate = #aggregate;
            fn aggregate_id(&self) -> ::eventsmith::__private::String {
                ::core::unreachable!("a command with errors is never compiled")
            }
        }
        impl<__A> ::eventsmith::__private::CommandFor<__A> for #ident {}
    }
}
