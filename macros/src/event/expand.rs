//! Code generation for `#[derive(Event)]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{EventEnum, Variant};
use crate::naming;
use crate::naming::located;

pub fn expand(model: &EventEnum<'_>) -> TokenStream {
    generate(model, false)
}

/// The expansion of an enum with errors: a payload wrapped twice gets its impls once, the
/// decoding of a name given twice is allowed to be unreachable, and older versions are not
/// decoded (their upcasters may be what is wrong).
pub fn recovered(model: &EventEnum<'_>) -> TokenStream {
    generate(model, true)
}

fn generate(model: &EventEnum<'_>, recovering: bool) -> TokenStream {
    let event_impl = event_impl(model, recovering);
    let mut payloads_seen = std::collections::HashSet::new();
    let payload_impls = model.variants.iter().enumerate().filter_map(|(index, variant)| {
        let payload = variant.payload.map(|payload| quote!(#payload).to_string());
        if payload.is_some_and(|payload| !payloads_seen.insert(payload)) {
            return None;
        }
        payload_impls(model, index, variant)
    });
    let units = unit_markers(model);
    let fold = fold_impl(model);
    let schemas = schemas_impl(model, recovering);
    quote! {
        #units
        const _: () = {
            #event_impl
            #(#payload_impls)*
            #fold
            #schemas
        };
    }
}

/// The JSON Schema of every (name, version) the enum reads: each current payload and each
/// upcaster's old type. Bounded on a type parameter, so that only an enum whose schemas are
/// asked for (by the schema lock) needs `JsonSchema` on its payloads.
fn schemas_impl(model: &EventEnum<'_>, recovering: bool) -> TokenStream {
    let ident = model.ident;
    let marker = format_ident!("__M");
    let mut entries = Vec::new();
    let mut bounds = Vec::new();
    for variant in &model.variants {
        let (name, version) = (&variant.name, variant.version);
        let Some(payload) = variant.payload else {
            entries.push(quote! {
                ::eventsmith::__private::EventSchema { name: #name, version: #version, schema: ::eventsmith::__private::unit_schema() }
            });
            continue;
        };
        entries.push(quote! {
            ::eventsmith::__private::EventSchema {
                name: #name,
                version: #version,
                schema: <#payload as ::eventsmith::__private::HasSchema<#marker>>::schema(),
            }
        });
        bounds.push(quote_spanned!(payload.span()=> #payload: ::eventsmith::__private::HasSchema<#marker>));
        for upcast in variant.upcasts.iter().filter(|upcast| !recovering && upcast.from < version) {
            let (from, with) = (upcast.from, &upcast.with);
            entries.push(quote! {
                ::eventsmith::__private::EventSchema {
                    name: #name,
                    version: #from,
                    schema: <#with as ::eventsmith::__private::HasSchema<#marker>>::schema(),
                }
            });
            bounds.push(quote_spanned!(with.span()=> #with: ::eventsmith::__private::HasSchema<#marker>));
        }
    }
    // The header carries the enum's span, and each bound its payload's: a payload without a
    // schema is reported as a bound of the user's enum at that payload, not of a derive.
    let schemas = quote_spanned!(ident.span()=> ::eventsmith::__private::EventSchemas<#marker>);
    quote! {
        #[automatically_derived]
        impl<#marker> #schemas for #ident
        where
            #(#bounds,)*
        {
            fn event_schemas() -> ::eventsmith::__private::Vec<::eventsmith::__private::EventSchema> {
                ::eventsmith::__private::Vec::from([#(#entries),*])
            }
        }
    }
}

fn event_impl(model: &EventEnum<'_>, recovering: bool) -> TokenStream {
    let (ident, namespace) = (model.ident, &model.namespace);
    let names: Vec<&str> = model.variants.iter().map(|variant| variant.name.as_str()).collect();
    let versions: Vec<u32> = model.variants.iter().map(|variant| variant.version).collect();
    let aliases = model.variants.iter().map(|variant| {
        let aliases = &variant.aliases;
        quote!(&[#(#aliases),*])
    });
    let patterns: Vec<TokenStream> = model.variants.iter().map(pattern).collect();
    let shapes: Vec<TokenStream> = model.variants.iter().map(shape).collect();
    let indices = 0..model.variants.len();
    let encodes = model.variants.iter().map(|variant| {
        let name = &variant.name;
        match variant.payload {
            // Spanned at the payload type, like its decoding: a payload without `Serialize`
            // or `Deserialize` is one error there.
            Some(payload) => {
                quote_spanned!(located(payload.span())=> <#payload as ::eventsmith::__private::Payload>::encode_payload(__payload, #name))
            }
            None => quote!(::core::result::Result::Ok(::eventsmith::__private::unit_payload())),
        }
    });
    let decodes = model.variants.iter().map(|variant| decode_arm(variant, recovering));
    let deprecated: Vec<TokenStream> =
        model.variants.iter().filter(|variant| variant.deprecated.is_some()).map(shape).collect();
    let is_deprecated = (!deprecated.is_empty()).then(|| {
        quote! {
            #[inline]
            fn is_deprecated(&self) -> bool {
                ::core::matches!(self, #(#deprecated)|*)
            }
        }
    });
    let histories = model.variants.iter().map(|variant| {
        let mut upcast_from: Vec<u32> = variant
            .upcasts
            .iter()
            .filter(|upcast| !recovering && upcast.from < variant.version)
            .map(|upcast| upcast.from)
            .collect();
        upcast_from.sort_unstable();
        let deprecated = variant.deprecated.is_some();
        quote!(::eventsmith::__private::TypeHistory { upcast_from: &[#(#upcast_from),*], deprecated: #deprecated })
    });
    let written: Vec<&str> = model
        .variants
        .iter()
        .filter(|variant| variant.deprecated.is_none())
        .map(|variant| variant.name.as_str())
        .collect();
    let attributes = naming::impl_attributes();
    let allow_repeats = recovering.then(|| quote!(#[allow(unreachable_patterns)]));
    quote! {
        #attributes
        impl ::eventsmith::__private::Produces<#ident> for #ident {
            const PRODUCED: &'static [&'static str] = &[#(#written),*];

            #[inline]
            fn produce(self) -> Self {
                self
            }
        }

        #attributes
        impl ::eventsmith::__private::Event for #ident {
            const NAMESPACE: &'static str = #namespace;

            const TYPES: &'static [::eventsmith::__private::EventType] = &[
                #(::eventsmith::__private::EventType { name: #names, version: #versions, aliases: #aliases },)*
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

            #allow_repeats
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

            #is_deprecated

            const HISTORY: &'static [::eventsmith::__private::TypeHistory] = &[#(#histories),*];

            fn catalog_schemas() -> ::core::option::Option<::eventsmith::__private::Vec<::eventsmith::__private::EventSchema>> {
                #[allow(unused_imports)]
                use ::eventsmith::__private::{NoSchemas as _, SchemasIfAny as _};
                (&&::eventsmith::__private::MaybeSchemas::<Self>::NEW).maybe_schemas()
            }
        }
    }
}

/// The decoding of one variant: its name and aliases, its current version, and each older
/// version through its chain of upcasters.
fn decode_arm(variant: &Variant<'_>, recovering: bool) -> TokenStream {
    let (name, version, variant_ident) = (&variant.name, variant.version, variant.ident);
    let aliases = variant.aliases.iter().map(syn::LitStr::value);
    let Some(payload) = variant.payload else {
        return quote! {
            #name #(| #aliases)* => match event_version {
                #version => ::eventsmith::__private::decode_unit(#name, #version, payload).map(|()| Self::#variant_ident),
                __other => ::core::result::Result::Err(::eventsmith::__private::unknown_version(#name, __other, #version)),
            },
        };
    };
    let mut upcasts: Vec<_> = variant.upcasts.iter().filter(|upcast| !recovering && upcast.from < version).collect();
    upcasts.sort_by_key(|upcast| upcast.from);
    let old_versions = upcasts.iter().enumerate().map(|(index, upcast)| {
        let (from, with) = (upcast.from, &upcast.with);
        // Each step converts into the next declared version's type, the last into the payload.
        let steps = upcasts[index..].iter().enumerate().map(|(offset, step)| {
            let next: TokenStream = match upcasts.get(index + offset + 1) {
                Some(next) => {
                    let ty = &next.with;
                    quote!(#ty)
                }
                None => quote!(#payload),
            };
            let (step_from, to) = (step.from, upcasts.get(index + offset + 1).map_or(version, |next| next.from));
            let step_with = &step.with;
            match &step.via {
                Some(via) => quote_spanned! {located(via.span())=>
                    let __event: #next = <_ as ::eventsmith::__private::UpcastVia<#step_with, #next, #step_from, #to>>::upcast(#via, #name, __event)?;
                },
                None => quote_spanned! {located(step_with.span())=>
                    let __event: #next = <#step_with as ::eventsmith::__private::UpcastStep<#next, #step_from, #to>>::step(__event);
                },
            }
        });
        let decode = quote_spanned! {located(with.span())=>
            <#with as ::eventsmith::__private::OlderVersion>::decode_older(#name, #from, payload)?
        };
        quote! {
            #from => {
                let __event = #decode;
                #(#steps)*
                ::core::result::Result::Ok(Self::#variant_ident(__event))
            }
        }
    });
    let decode = quote_spanned! {located(payload.span())=>
        <#payload as ::eventsmith::__private::Payload>::decode_payload(#name, #version, payload)
    };
    quote! {
        #name #(| #aliases)* => match event_version {
            #version => #decode.map(Self::#variant_ident),
            #(#old_versions)*
            __other => ::core::result::Result::Err(::eventsmith::__private::unknown_version(#name, __other, #version)),
        },
    }
}

/// The stored names a variant is read under: its name, then its aliases.
fn names_of(variant: &Variant<'_>) -> TokenStream {
    let name = &variant.name;
    let aliases = variant.aliases.iter().map(syn::LitStr::value);
    quote!(&[#name #(, #aliases)*])
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
    let names = names_of(variant);
    let other_variants = (model.variants.len() > 1).then(|| quote!(__other => ::core::result::Result::Err(__other),));
    let attributes = naming::impl_attributes();
    let Some(payload) = variant.payload else {
        // A unit variant's marker type routes it in projections, like a payload would.
        let module = naming::units_module(ident);
        return Some(quote! {
            #attributes
            impl ::eventsmith::__private::VariantOf<#ident> for #module::#variant_ident {
                const INDEX: usize = #index;
                const NAME: &'static str = #name;
                const NAMES: &'static [&'static str] = #names;
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
    // A deprecated event is still decoded and folded, but no handler may produce it: its
    // impl requires a bound nothing satisfies, whose message says so.
    let produces = match &variant.deprecated {
        None => quote! {
            #attributes
            impl ::eventsmith::__private::Produces<#ident> for #payload {
                const PRODUCED: &'static [&'static str] = &[#name];

                #[inline]
                fn produce(self) -> #ident {
                    #ident::#variant_ident(self)
                }
            }
        },
        // The header is spanned at `deprecated`, the user's token that explains the error.
        Some(deprecated) => quote_spanned! {deprecated.span()=>
            #[automatically_derived]
            impl<'__x> ::eventsmith::__private::Produces<#ident> for #payload
            where
                (): ::eventsmith::__private::NotDeprecated<'__x, #payload, #ident>,
            {
                const PRODUCED: &'static [&'static str] = &[#name];

                #[inline]
                fn produce(self) -> #ident {
                    #ident::#variant_ident(self)
                }
            }
        },
    };
    Some(quote! {
        #[automatically_derived]
        impl ::core::convert::From<#payload> for #ident {
            #[inline]
            fn from(event: #payload) -> Self {
                Self::#variant_ident(event)
            }
        }

        #produces

        #attributes
        impl ::eventsmith::__private::VariantOf<#ident> for #payload {
            const INDEX: usize = #index;
            const NAME: &'static str = #name;
            const NAMES: &'static [&'static str] = #names;
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
/// The header carries the enum's span and each bound its variant's: a missing `#[apply]`
/// is reported as a bound of the user's enum at that variant, not of a derive.
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
    let bounds = model.variants.iter().zip(&applied).map(|(variant, applied)| match variant.payload {
        Some(payload) => quote_spanned!(payload.span()=> #state: ::eventsmith::__private::Applies<#applied>),
        None => quote_spanned!(variant.ident.span()=> #state: ::eventsmith::__private::AppliesUnit<#ident, #applied>),
    });
    let arms = model.variants.iter().zip(&applied).map(|(variant, applied)| {
        let variant_ident = variant.ident;
        match variant.payload {
            Some(_) => quote! {
                Self::#variant_ident(__payload) => ::eventsmith::__private::Applies::<#applied>::apply_event(state, __payload),
            },
            None => quote! {
                Self::#variant_ident => ::eventsmith::__private::AppliesUnit::<#ident, #applied>::apply_unit(state, &#applied),
            },
        }
    });
    let applied_by = quote_spanned!(ident.span()=> ::eventsmith::__private::AppliedBy<#state>);
    quote! {
        #[automatically_derived]
        impl<#state> #applied_by for #ident
        where
            #(#bounds,)*
        {
            #[inline]
            fn apply_to(&self, state: &mut #state) {
                match self { #(#arms)* }
            }
        }
    }
}
