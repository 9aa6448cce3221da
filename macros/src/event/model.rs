//! The event enum as eventsmith sees it: variants with their stored names and versions.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::symbol::{EVENT, NAME, VERSION};

pub struct EventEnum<'a> {
    pub ident: &'a Ident,
    /// How many variants the enum declares, including any that failed to lower.
    pub declared: usize,
    pub vis: &'a Visibility,
    pub variants: Vec<Variant<'a>>,
}

pub struct Variant<'a> {
    pub ident: &'a Ident,
    /// The wrapped event struct; `None` for a unit variant.
    pub payload: Option<&'a Type>,
    /// The stored type name, and the literal it was given by, if any.
    pub name: String,
    pub name_lit: Option<LitStr>,
    pub version: u32,
}

impl<'a> EventEnum<'a> {
    pub fn lower(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                cx.error_on(
                    data.struct_token,
                    "`#[derive(Event)]` goes on an enum with one variant per event type, e.g. \
                     `enum OrderEvent { OrderCreated(OrderCreated), ... }`; derive `Serialize` and \
                     `Deserialize` on this struct and wrap it in such an enum",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_on(data.union_token, "`#[derive(Event)]` goes on an enum, not a union");
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            cx.error_on(&input.generics, "an event enum cannot be generic: stored events name concrete types");
        }
        for attr in attr::named(&input.attrs, EVENT) {
            cx.error_on(attr, "`#[event(...)]` goes on the variants, not on the enum");
        }
        let variants = data.variants.iter().filter_map(|variant| Variant::lower(cx, variant)).collect();
        Some(Self { ident: &input.ident, declared: data.variants.len(), vis: &input.vis, variants })
    }
}

impl<'a> Variant<'a> {
    fn lower(cx: &Ctxt, variant: &'a syn::Variant) -> Option<Self> {
        let payload = match &variant.fields {
            Fields::Unit => None,
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => Some(&fields.unnamed[0].ty),
            Fields::Unnamed(fields) => {
                cx.error_on(
                    fields,
                    format_args!(
                        "an event variant wraps exactly one event struct; put these fields in a struct, \
                         e.g. `{}({})`",
                        variant.ident, variant.ident
                    ),
                );
                return None;
            }
            Fields::Named(fields) => {
                cx.error_on(
                    fields,
                    format_args!(
                        "an event variant wraps one event struct instead of having fields: declare \
                         `struct {0} {{ ... }}` with these fields and write the variant as `{0}({0})`",
                        variant.ident
                    ),
                );
                return None;
            }
        };
        let mut name = Once::new(EVENT, NAME);
        let mut version = Once::new(EVENT, VERSION);
        attr::parse_each(cx, &variant.attrs, EVENT, |meta| {
            // #[event(name = "OrderCreated")]
            if meta.path.is_ident(NAME) {
                let lit = attr::string_value(&meta)?;
                name.set(&meta, lit)
            // #[event(version = 2)]
            } else if meta.path.is_ident(VERSION) {
                let (number, _) = attr::version_value(&meta)?;
                version.set(&meta, number)
            } else {
                Err(attr::unknown_key(&meta, EVENT, &[NAME, VERSION]))
            }
        });
        let name_lit = name.get();
        Some(Self {
            ident: &variant.ident,
            payload,
            name: name_lit.as_ref().map_or_else(|| variant.ident.to_string(), LitStr::value),
            name_lit,
            version: version.get().unwrap_or(1),
        })
    }
}
