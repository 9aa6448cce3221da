//! Code generation for `#[derive(Command)]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{CommandEnum, CommandItem, CommandStruct, Expect};

pub fn expand(model: &CommandItem<'_>) -> TokenStream {
    match model {
        CommandItem::Struct(command) => expand_struct(command),
        CommandItem::Enum(commands) => expand_enum(commands),
    }
}

fn expand_struct(command: &CommandStruct<'_>) -> TokenStream {
    let (ident, aggregate) = (command.ident, &command.aggregate);
    let Some(id) = command.ids.first() else {
        return TokenStream::new();
    };
    let member = &id.member;
    // Spanned at the id field's type, so a type without `Display` is reported there.
    let aggregate_id = quote_spanned! {id.ty.span()=>
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

fn expand_enum(commands: &CommandEnum<'_>) -> TokenStream {
    let ident = commands.ident;
    let names: Vec<&str> = commands.variants.iter().map(|variant| variant.name.as_str()).collect();
    let variants: Vec<_> = commands.variants.iter().map(|variant| variant.ident).collect();
    let types: Vec<_> = commands.variants.iter().map(|variant| variant.command).collect();
    let dispatches = types.iter().map(|ty| {
        quote_spanned! {ty.span()=> ::eventsmith::__private::dispatch::<#ty>(app, __command).await }
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::eventsmith::__private::CommandEnvelope for #ident {
                const TYPES: &'static [&'static str] = &[#(#names),*];

                fn decode(command_type: &str, data: &[u8]) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
                    match command_type {
                        #(#names => ::eventsmith::__private::decode_message::<#types>(#names, data).map(Self::#variants),)*
                        __other => ::core::result::Result::Err(::eventsmith::__private::unknown_type(__other, Self::TYPES)),
                    }
                }

                async fn dispatch(
                    self,
                    app: &::eventsmith::__private::App,
                ) -> ::core::result::Result<::eventsmith::__private::Dispatched, ::eventsmith::__private::Error> {
                    match self {
                        #(Self::#variants(__command) => #dispatches,)*
                    }
                }
            }

            #(
                #[automatically_derived]
                impl ::core::convert::From<#types> for #ident {
                    #[inline]
                    fn from(command: #types) -> Self {
                        Self::#variants(command)
                    }
                }
            )*
        };
    }
}
