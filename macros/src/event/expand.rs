//! Code generation for `#[derive(Event)]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{EventEnum, Variant};
use crate::naming;

pub fn expand(model: &EventEnum<'_>) -> TokenStream {
    let event_impl = event_impl(model);
    let payload_impls =
        model.variants.iter().enumerate().filter_map(|(index, variant)| payload_impls(model, index, variant));
    let units = unit_markers(model);
    let fold = fold_impl(model);
    quote! {
        #units
        const _: () = {
            #event_impl
            #(#payload_impls)*
            #fold
        };
    }
}

fn event_impl(model: &EventEnum<'_>) -> TokenStream {
    let ident = model.ident;
    let names: Vec<&str> = model.variants.iter().map(|variant| variant.name.as_str()).collect();
    let versions: Vec<u32> = model.variants.iter().map(|variant| variant.version).collect();
    let patterns: Vec<TokenStream> = model.variants.iter().map(pattern).collect();
    let shapes: Vec<TokenStream> = model.variants.iter().map(shape).collect();
    let indices = 0..model.variants.len();
    let encodes = model.variants.iter().map(|variant| {
        let name = &variant.name;
        match variant.payload {
            // Spanned at the payload type, so a missing `Serialize` is reported there.
            Some(payload) => quote_spanned!(payload.span()=> ::eventsmith::__private::encode_payload(#name, __payload)),
            None => quote!(::core::result::Result::Ok(::eventsmith::__private::unit_payload())),
        }
    });
    let decodes = model.variants.iter().map(|variant| {
        let (name, version, variant_ident) = (&variant.name, variant.version, variant.ident);
        let decoded = match variant.payload {
            Some(payload) => quote! {
                ::eventsmith::__private::decode_payload::<#payload>(#name, #version, payload).map(Self::#variant_ident)
            },
            None => quote! {
                ::eventsmith::__private::decode_unit(#name, #version, payload).map(|()| Self::#variant_ident)
            },
        };
        quote! {
            #name => match event_version {
                #version => #decoded,
                __other => ::core::result::Result::Err(::eventsmith::__private::unknown_version(#name, __other, #version)),
            },
        }
    });
    quote! {
        #[automatically_derived]
        impl ::eventsmith::__private::Produces<#ident> for #ident {
            #[inline]
            fn produce(self) -> Self {
                self
            }
        }

        #[automatically_derived]
        impl ::eventsmith::__private::Event for #ident {
            const TYPES: &'static [::eventsmith::__private::EventType] = &[
                #(::eventsmith::__private::EventType { name: #names, version: #versions },)*
            ];

            #[inline]
            fn event_type(&self) -> &'static str {
                match self { #(#shapes => #names,)* }
            }

            #[inline]
            fn event_version(&self) -> u32 {
                match self { #(#shapes => #versions,)* }
            }

            #[inline]
            fn variant_index(&self) -> usize {
                match self { #(#shapes => #indices,)* }
            }

            fn encode(&self) -> ::core::result::Result<::eventsmith::__private::Vec<u8>, ::eventsmith::__private::EncodeError> {
                match self { #(#patterns => #encodes,)* }
            }

            fn decode(
                event_type: &str,
                event_version: u32,
                payload: &[u8],
            ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
                match event_type {
                    #(#decodes)*
                    __other => ::core::result::Result::Err(::eventsmith::__private::unknown_type(__other, &[#(#names),*])),
                }
            }
        }
    }
}

/// The pattern binding a variant's payload to `__payload`.
fn pattern(variant: &Variant<'_>) -> TokenStream {
    let ident = variant.ident;
    match variant.payload {
        Some(_) => quote!(Self::#ident(__payload)),
        None => quote!(Self::#ident),
    }
}

/// The pattern matching a variant without binding its payload.
fn shape(variant: &Variant<'_>) -> TokenStream {
    let ident = variant.ident;
    match variant.payload {
        Some(_) => quote!(Self::#ident(..)),
        None => quote!(Self::#ident),
    }
}

/// `From<Payload>` for the enum and `VariantOf<Enum>` for the payload.
fn payload_impls(model: &EventEnum<'_>, index: usize, variant: &Variant<'_>) -> Option<TokenStream> {
    let (ident, variant_ident, name, version) = (model.ident, variant.ident, &variant.name, variant.version);
    let other_variants = (model.variants.len() > 1).then(|| quote!(__other => ::core::result::Result::Err(__other),));
    let Some(payload) = variant.payload else {
        // A unit variant's marker type routes it in projections, like a payload would.
        let module = naming::units_module(ident);
        return Some(quote! {
            #[automatically_derived]
            impl ::eventsmith::__private::VariantOf<#ident> for #module::#variant_ident {
                const INDEX: usize = #index;
                const NAME: &'static str = #name;
                const VERSION: u32 = #version;

                #[inline]
                fn into_event(self) -> #ident {
                    #ident::#variant_ident
                }

                #[inline]
                fn from_event(event: #ident) -> ::core::result::Result<Self, #ident> {
                    match event {
                        #ident::#variant_ident => ::core::result::Result::Ok(#module::#variant_ident),
                        #other_variants
                    }
                }
            }
        });
    };
    Some(quote! {
        #[automatically_derived]
        impl ::core::convert::From<#payload> for #ident {
            #[inline]
            fn from(event: #payload) -> Self {
                Self::#variant_ident(event)
            }
        }

        #[automatically_derived]
        impl ::eventsmith::__private::Produces<#ident> for #payload {
            #[inline]
            fn produce(self) -> #ident {
                #ident::#variant_ident(self)
            }
        }

        #[automatically_derived]
        impl ::eventsmith::__private::VariantOf<#ident> for #payload {
            const INDEX: usize = #index;
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;

            #[inline]
            fn into_event(self) -> #ident {
                #ident::#variant_ident(self)
            }

            #[inline]
            fn from_event(event: #ident) -> ::core::result::Result<Self, #ident> {
                match event {
                    #ident::#variant_ident(__payload) => ::core::result::Result::Ok(__payload),
                    #other_variants
                }
            }
        }
    })
}

/// A marker type per unit variant, so that `#[apply(Enum::Variant)]` has a type to name.
fn unit_markers(model: &EventEnum<'_>) -> TokenStream {
    let units: Vec<_> =
        model.variants.iter().filter(|variant| variant.payload.is_none()).map(|variant| variant.ident).collect();
    if units.is_empty() {
        return TokenStream::new();
    }
    let (vis, module) = (model.vis, naming::units_module(model.ident));
    let docs = units.iter().map(|unit| format!("Marks the unit event `{}::{unit}` in `#[apply]`.", model.ident));
    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, reason = "named after the event enum, which is upper camel case")]
        #vis mod #module {
            #(
                #[doc = #docs]
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
                pub struct #units;
            )*
        }
    }
}

/// The replay fold: one `Apply` bound per variant, so a state missing one does not compile.
fn fold_impl(model: &EventEnum<'_>) -> TokenStream {
    let ident = model.ident;
    let module = naming::units_module(ident);
    let state = format_ident!("__S");
    let applied: Vec<TokenStream> = model
        .variants
        .iter()
        .map(|variant| match variant.payload {
            Some(payload) => quote!(#payload),
            None => {
                let unit = variant.ident;
                quote!(#module::#unit)
            }
        })
        .collect();
    let arms = model.variants.iter().zip(&applied).map(|(variant, applied)| {
        let variant_ident = variant.ident;
        match variant.payload {
            Some(_) => quote! {
                Self::#variant_ident(__payload) => ::eventsmith::__private::Apply::<#applied>::apply(state, __payload),
            },
            None => quote! {
                Self::#variant_ident => ::eventsmith::__private::Apply::<#applied>::apply(state, &#applied),
            },
        }
    });
    quote! {
        #[automatically_derived]
        impl<#state> ::eventsmith::__private::Fold<#state> for #ident
        where
            #(#state: ::eventsmith::__private::Apply<#applied>,)*
        {
            #[inline]
            fn fold_into(&self, state: &mut #state) {
                match self { #(#arms)* }
            }
        }
    }
}
