//! Code generation for an enum of messages. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{EnvelopeEnum, Kind};
use crate::naming::{self, located};

pub fn expand(model: &EnvelopeEnum<'_>) -> TokenStream {
    let ident = model.ident;
    let names: Vec<&str> = model.variants.iter().map(|variant| variant.name.as_str()).collect();
    let variants: Vec<_> = model.variants.iter().map(|variant| variant.ident).collect();
    let messages: Vec<_> = model.variants.iter().map(|variant| variant.message).collect();
    let routing = routing(model);
    let attributes = naming::impl_attributes();
    quote! {
        const _: () = {
            #attributes
            impl ::eventsmith::__private::Envelope for #ident {
                const TYPES: &'static [&'static str] = &[#(#names),*];

                fn decode(
                    message_type: &str,
                    data: &[u8],
                ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
                    match message_type {
                        #(#names => ::eventsmith::__private::decode_message::<#messages>(#names, data).map(Self::#variants),)*
                        __other => ::core::result::Result::Err(::eventsmith::__private::unknown_type(__other, Self::TYPES)),
                    }
                }
            }

            #routing

            #(
                #[automatically_derived]
                impl ::core::convert::From<#messages> for #ident {
                    #[inline]
                    fn from(message: #messages) -> Self {
                        Self::#variants(message)
                    }
                }
            )*
        };
    }
}

/// Where a decoded message goes: a command to the aggregate that handles it, a query to the
/// projection that answers it. Each call is spanned at the variant's struct: a struct that is
/// not a command (or no projection answers) is reported there, once.
fn routing(model: &EnvelopeEnum<'_>) -> TokenStream {
    let ident = model.ident;
    let attributes = naming::impl_attributes();
    let variants: Vec<_> = model.variants.iter().map(|variant| variant.ident).collect();

    match model.kind {
        Kind::Commands => {
            let dispatches = model.variants.iter().map(|variant| {
                let ty = variant.message;
                quote_spanned! {located(ty.span())=>
                    ::core::result::Result::Ok(::core::convert::From::from(app.execute::<#ty, _>(__message).await?))
                }
            });
            quote! {
                #attributes
                impl ::eventsmith::__private::CommandEnvelope for #ident {
                    async fn dispatch(
                        self,
                        app: &::eventsmith::__private::App,
                    ) -> ::core::result::Result<::eventsmith::__private::Dispatched, ::eventsmith::__private::Error> {
                        match self {
                            #(Self::#variants(__message) => #dispatches,)*
                        }
                    }
                }
            }
        }
        Kind::Queries => {
            let answers = model.variants.iter().map(|variant| {
                let ty = variant.message;
                quote_spanned! {located(ty.span())=> <#ty as ::eventsmith::__private::JsonAnswer<_>>::answer_json(__message, app).await }
            });
            quote! {
                #attributes
                impl ::eventsmith::__private::QueryEnvelope for #ident {
                    async fn answer(
                        self,
                        app: &::eventsmith::__private::App,
                    ) -> ::core::result::Result<::eventsmith::__private::String, ::eventsmith::__private::Error> {
                        match self {
                            #(Self::#variants(__message) => #answers,)*
                        }
                    }
                }
            }
        }
    }
}

/// What is emitted for an enum of messages with errors: impls with no behaviour, so that the
/// errors reported are the user's mistakes and not their consequences where it is used.
pub fn fallback(ident: &syn::Ident, kind: Kind) -> TokenStream {
    let routing = match kind {
        Kind::Commands => quote! {
            impl ::eventsmith::__private::CommandEnvelope for #ident {
                async fn dispatch(
                    self,
                    _: &::eventsmith::__private::App,
                ) -> ::core::result::Result<::eventsmith::__private::Dispatched, ::eventsmith::__private::Error> {
                    ::core::unreachable!("an enum of messages with errors is never compiled")
                }
            }
        },
        Kind::Queries => quote! {
            impl ::eventsmith::__private::QueryEnvelope for #ident {
                async fn answer(
                    self,
                    _: &::eventsmith::__private::App,
                ) -> ::core::result::Result<::eventsmith::__private::String, ::eventsmith::__private::Error> {
                    ::core::unreachable!("an enum of messages with errors is never compiled")
                }
            }
        },
    };
    quote! {
        impl ::eventsmith::__private::Envelope for #ident {
            const TYPES: &'static [&'static str] = &[];

            fn decode(
                message_type: &str,
                _: &[u8],
            ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
                ::core::result::Result::Err(::eventsmith::__private::unknown_type(message_type, &[]))
            }
        }

        #routing
    }
}
