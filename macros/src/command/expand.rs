//! Code generation for `#[derive(Command)]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{CommandStruct, Expect};
use crate::naming::located;

pub fn expand(command: &CommandStruct<'_>) -> TokenStream {
    let (ident, aggregate) = (command.ident, &command.aggregate);
    let Some(id) = command.ids.first() else {
        return TokenStream::new();
    };
    let member = &id.member;
    // Spanned at the id field's type, so a type without `Display` is reported there.
    let aggregate_id = quote_spanned! {located(id.ty.span())=>
        ::eventsmith::__private::aggregate_id(&self.#member)
    };
    let expect = match command.expect {
        Expect::Any => quote!(Any),
        Expect::New => quote!(New),
        Expect::Existing => quote!(Existing),
    };
    let aggregate_ty = quote_spanned!(aggregate.span()=> #aggregate);
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::eventsmith::__private::Command for #ident {
                type Aggregate = #aggregate_ty;
                const EXPECT: ::eventsmith::__private::ExpectStream = ::eventsmith::__private::ExpectStream::#expect;

                #[inline]
                fn aggregate_id(&self) -> ::eventsmith::__private::String {
                    #aggregate_id
                }
            }

            #[automatically_derived]
            impl ::eventsmith::__private::CommandFor<#aggregate_ty> for #ident {}
        };
    }
}
