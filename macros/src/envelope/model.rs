//! An enum of messages as eventsmith sees it: its variants, each with the struct it wraps and
//! the type name it is decoded under.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::symbol::{COMMAND, NAME, QUERY};

/// What the enum's messages are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Commands,
    Queries,
}

impl Kind {
    /// The attribute a variant's options go in: `#[command(...)]` or `#[query(...)]`.
    pub fn attribute(self) -> &'static str {
        match self {
            Kind::Commands => COMMAND,
            Kind::Queries => QUERY,
        }
    }

    /// One message, for messages: "command" or "query".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Commands => "command",
            Kind::Queries => "query",
        }
    }

    /// The derive, for messages.
    pub fn derive(self) -> &'static str {
        match self {
            Kind::Commands => "CommandEnvelope",
            Kind::Queries => "QueryEnvelope",
        }
    }
}

pub struct EnvelopeEnum<'a> {
    pub ident: &'a Ident,
    pub kind: Kind,
    /// How many variants the enum declares, including any that failed to lower.
    pub declared: usize,
    pub variants: Vec<EnvelopeVariant<'a>>,
}

pub struct EnvelopeVariant<'a> {
    pub ident: &'a Ident,
    /// The command or query struct the variant wraps.
    pub message: &'a Type,
    /// The type name it is decoded under, and the literal it was given by, if any.
    pub name: String,
    pub name_lit: Option<LitStr>,
}

impl<'a> EnvelopeEnum<'a> {
    pub fn lower(cx: &Ctxt, input: &'a DeriveInput, kind: Kind) -> Option<Self> {
        let (noun, derive) = (kind.noun(), kind.derive());
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                let fix = match kind {
                    Kind::Commands => "derive `Command` on a command struct",
                    Kind::Queries => {
                        "a query struct needs no derive: it gets its `Query` impl from the `#[query]` method that \
                         answers it"
                    }
                };
                cx.error_on(
                    data.struct_token,
                    format_args!(
                        "`#[derive({derive})]` goes on an enum of {noun} structs, decoded from \
                         `{{\"type\": ..., \"data\": ...}}`; {fix}"
                    ),
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_on(data.union_token, format_args!("`#[derive({derive})]` goes on an enum, not a union"));
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            cx.error_on(&input.generics, format_args!("an enum of {noun} structs cannot be generic"));
        }
        for attr in attr::named(&input.attrs, kind.attribute()) {
            cx.error_on(
                attr,
                format_args!(
                    "on an enum of {noun} structs, `#[{}(...)]` goes on a variant, to rename it: \
                     `#[{}(name = \"...\")]`",
                    kind.attribute(),
                    kind.attribute()
                ),
            );
        }
        let variants = data.variants.iter().filter_map(|variant| EnvelopeVariant::lower(cx, kind, variant)).collect();
        Some(Self { ident: &input.ident, kind, declared: data.variants.len(), variants })
    }
}

impl<'a> EnvelopeVariant<'a> {
    fn lower(cx: &Ctxt, kind: Kind, variant: &'a syn::Variant) -> Option<Self> {
        let message = match &variant.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => &fields.unnamed[0].ty,
            fields => {
                cx.error_on(
                    if matches!(fields, Fields::Unit) {
                        variant.ident.to_token_stream()
                    } else {
                        fields.to_token_stream()
                    },
                    format_args!(
                        "each variant of an enum of {noun} structs wraps one {noun} struct, e.g. `{0}({0})`",
                        variant.ident,
                        noun = kind.noun(),
                    ),
                );
                return None;
            }
        };
        let attribute = kind.attribute();
        let mut name = Once::new(attribute, NAME);
        attr::parse_each(cx, &variant.attrs, attribute, |meta| {
            // #[command(name = "CreateOrder")] or #[query(name = "GetOrder")]
            if meta.path.is_ident(NAME) {
                let lit = attr::string_value(meta)?;
                name.set(cx, meta, lit)
            } else {
                Err(attr::unknown_key(meta, attribute, &[NAME]))
            }
        });
        let name_lit = name.get();
        Some(Self {
            ident: &variant.ident,
            message,
            name: name_lit.as_ref().map_or_else(|| variant.ident.to_string(), LitStr::value),
            name_lit,
        })
    }
}

use quote::ToTokens;
