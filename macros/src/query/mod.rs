//! `#[derive(Query)]` on an enum of query structs: decodes the seed's `{"type", "data"}`
//! query envelope and answers it as JSON. (A query struct itself gets its `Query` impl from
//! the `#[query]` method that answers it.)

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::symbol::{NAME, QUERY};

struct QueryVariant<'a> {
    ident: &'a syn::Ident,
    query: &'a syn::Type,
    name: String,
    name_lit: Option<LitStr>,
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let variants = lower(&cx, input);
    if let Some(variants) = &variants {
        check(&cx, input, variants);
    }
    cx.check()?;
    Ok(variants.map(|variants| generate(input, &variants)).unwrap_or_default())
}

fn lower<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Vec<QueryVariant<'a>>> {
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(data) => {
            cx.error_on(
                data.struct_token,
                "a query struct needs no derive: it gets its `Query` impl from the `#[query]` method that answers it; \
                 `#[derive(Query)]` is for an enum of queries, decoded from `{\"type\": ..., \"data\": ...}`",
            );
            return None;
        }
        Data::Union(data) => {
            cx.error_on(data.union_token, "`#[derive(Query)]` goes on an enum of queries, not a union");
            return None;
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_on(&input.generics, "a query enum cannot be generic");
        return None;
    }
    let variants = data
        .variants
        .iter()
        .filter_map(|variant| {
            let query = match &variant.fields {
                Fields::Unnamed(fields) if fields.unnamed.len() == 1 => &fields.unnamed[0].ty,
                _ => {
                    cx.error_on(
                        variant,
                        format_args!(
                            "each variant of a query enum wraps one query struct, e.g. `{0}({0})`",
                            variant.ident
                        ),
                    );
                    return None;
                }
            };
            let mut name = Once::new(QUERY, NAME);
            attr::parse_each(cx, &variant.attrs, QUERY, |meta| {
                // #[query(name = "GetOrder")]
                if meta.path.is_ident(NAME) {
                    let lit = attr::string_value(&meta)?;
                    name.set(&meta, lit)
                } else {
                    Err(attr::unknown_key(&meta, QUERY, &[NAME]))
                }
            });
            let name_lit = name.get();
            Some(QueryVariant {
                ident: &variant.ident,
                query,
                name: name_lit.as_ref().map_or_else(|| variant.ident.to_string(), LitStr::value),
                name_lit,
            })
        })
        .collect();
    Some(variants)
}

fn check(cx: &Ctxt, input: &DeriveInput, variants: &[QueryVariant<'_>]) {
    if let Data::Enum(data) = &input.data {
        if data.variants.is_empty() {
            cx.error_on(&input.ident, "a query enum needs at least one variant");
        }
    }
    let token =
        |v: &QueryVariant<'_>| v.name_lit.as_ref().map_or_else(|| v.ident.to_token_stream(), ToTokens::to_token_stream);
    for (index, variant) in variants.iter().enumerate() {
        if let Some(first) = variants[..index].iter().find(|earlier| earlier.name == variant.name) {
            cx.error_on(
                token(variant),
                format_args!("duplicate query name `{}`; rename one with `#[query(name = \"...\")]`", variant.name),
            );
            cx.error_on(token(first), format_args!("`{}` is first used here", first.name));
        }
    }
}

fn generate(input: &DeriveInput, variants: &[QueryVariant<'_>]) -> TokenStream {
    let ident = &input.ident;
    let names: Vec<&str> = variants.iter().map(|variant| variant.name.as_str()).collect();
    let idents: Vec<_> = variants.iter().map(|variant| variant.ident).collect();
    let types: Vec<_> = variants.iter().map(|variant| variant.query).collect();
    let answers = types
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> ::eventsmith::__private::answer_json::<#ty>(app, __query).await));
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::eventsmith::__private::QueryEnvelope for #ident {
                const TYPES: &'static [&'static str] = &[#(#names),*];

                fn decode(query_type: &str, data: &[u8]) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
                    match query_type {
                        #(#names => ::eventsmith::__private::decode_message::<#types>(#names, data).map(Self::#idents),)*
                        __other => ::core::result::Result::Err(::eventsmith::__private::unknown_type(__other, Self::TYPES)),
                    }
                }

                async fn answer(
                    self,
                    app: &::eventsmith::__private::App,
                ) -> ::core::result::Result<::eventsmith::__private::String, ::eventsmith::__private::Error> {
                    match self {
                        #(Self::#idents(__query) => #answers,)*
                    }
                }
            }

            #(
                #[automatically_derived]
                impl ::core::convert::From<#types> for #ident {
                    #[inline]
                    fn from(query: #types) -> Self {
                        Self::#idents(query)
                    }
                }
            )*
        };
    }
}
