//! The event enum as eventsmith sees it: variants with their stored names and versions.

use syn::{Data, DeriveInput, Fields, Ident, LitInt, LitStr, Path, Type, Visibility};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::symbol::{ALIASES, DEPRECATED, EVENT, FROM, NAME, NAMESPACE, UPCAST, VERSION, VIA, WITH};

pub struct EventEnum<'a> {
    pub ident: &'a Ident,
    /// The namespace the enum's type names are stored in: `#[event(namespace = "...")]` on
    /// the enum, else the enum's name.
    pub namespace: String,
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
    /// The literal of `version = N`, if given.
    pub version_lit: Option<LitInt>,
    /// Old type names that stored events may still carry.
    pub aliases: Vec<LitStr>,
    /// The upcasters of older versions, as declared.
    pub upcasts: Vec<Upcast>,
    /// `#[event(deprecated)]`: still decoded and folded, no longer produced.
    pub deprecated: Option<Path>,
}

/// `upcast(from = N, with = OldType)` or `upcast(from = N, with = OldType, via = function)`.
pub struct Upcast {
    pub from: u32,
    pub from_lit: LitInt,
    /// The type the old version's payload decodes into.
    pub with: Type,
    /// A function from `with` to the next version, returning `Result<Next, E: Display>`;
    /// without it, `with: Into<Next>`.
    pub via: Option<Path>,
}

impl<'a> EventEnum<'a> {
    pub fn lower(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                cx.error_on(
                    data.struct_token,
                    format_args!(
                        "`#[derive(Event)]` goes on an enum with one variant per event type: remove `Event` from \
                         this derive and wrap `{0}` in an enum that derives it, e.g. `enum YourEvent {{ {0}({0}), ... }}`",
                        input.ident
                    ),
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
        let mut namespace = Once::new(EVENT, NAMESPACE);
        attr::parse_each(cx, &input.attrs, EVENT, |meta| {
            // #[event(namespace = "orders")]
            if meta.path.is_ident(NAMESPACE) {
                let lit = attr::string_value(meta)?;
                namespace.set(cx, meta, lit)
            } else if [NAME, VERSION, ALIASES, UPCAST, DEPRECATED].iter().any(|key| meta.path.is_ident(key)) {
                Err(meta.error(format_args!(
                    "`{}` goes on a variant, in an `#[event(...)]` above the variant it is for; on the enum, \
                     `#[event(...)]` takes only `namespace = \"...\"`",
                    attr::key(meta),
                )))
            } else {
                Err(attr::unknown_key(meta, EVENT, &[NAMESPACE]))
            }
        });
        let namespace = namespace.get().map_or_else(|| input.ident.to_string(), |lit| lit.value());
        let variants = data.variants.iter().filter_map(|variant| Variant::lower(cx, &input.ident, variant)).collect();
        Some(Self { ident: &input.ident, namespace, declared: data.variants.len(), vis: &input.vis, variants })
    }
}

impl<'a> Variant<'a> {
    fn lower(cx: &Ctxt, enum_ident: &Ident, variant: &'a syn::Variant) -> Option<Self> {
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
        let mut aliases = Once::new(EVENT, ALIASES);
        let mut deprecated = Once::new(EVENT, DEPRECATED);
        let mut upcasts = Vec::new();
        attr::parse_each(cx, &variant.attrs, EVENT, |meta| {
            // #[event(name = "OrderCreated")]
            if meta.path.is_ident(NAME) {
                let lit = attr::string_value(meta)?;
                name.set(cx, meta, lit)
            // #[event(version = 2)]
            } else if meta.path.is_ident(VERSION) {
                let parsed = attr::version_value(meta)?;
                version.set(cx, meta, parsed)
            // #[event(aliases("order_created", "OrderOpened"))]
            } else if meta.path.is_ident(ALIASES) {
                let content;
                syn::parenthesized!(content in meta.input);
                let list = content.parse_terminated(<LitStr as syn::parse::Parse>::parse, syn::Token![,]).map_err(
                    |error| {
                        attr::skip_all(&content);
                        syn::Error::new(error.span(), "an alias is a string: `aliases(\"old_name\", ...)`")
                    },
                )?;
                for alias in &list {
                    if alias.value().trim().is_empty() {
                        return Err(syn::Error::new(alias.span(), "an alias must not be empty"));
                    }
                }
                aliases.set(cx, meta, list.into_iter().collect::<Vec<_>>())
            // #[event(deprecated)]
            } else if meta.path.is_ident(DEPRECATED) {
                attr::flag(cx, meta, EVENT)?;
                deprecated.set(cx, meta, meta.path.clone())
            // #[event(upcast(from = 1, with = ShippedV1, via = upgrade))]
            } else if meta.path.is_ident(UPCAST) {
                upcasts.extend(parse_upcast(cx, meta)?);
                Ok(())
            } else if meta.path.is_ident(NAMESPACE) {
                Err(meta.error(format_args!(
                    "`namespace` goes on the enum, in an `#[event(...)]` above `enum {enum_ident}`: all of an enum's \
                     events are stored in one namespace"
                )))
            } else {
                Err(attr::unknown_key(meta, EVENT, &[NAME, VERSION, ALIASES, UPCAST, DEPRECATED]))
            }
        });
        let name_lit = name.get();
        let (version, version_lit) = match version.get() {
            Some((number, lit)) => (number, Some(lit)),
            None => (1, None),
        };
        Some(Self {
            ident: &variant.ident,
            payload,
            name: name_lit.as_ref().map_or_else(|| variant.ident.to_string(), LitStr::value),
            name_lit,
            version,
            version_lit,
            aliases: aliases.get().unwrap_or_default(),
            upcasts,
            deprecated: deprecated.get(),
        })
    }
}

fn parse_upcast(cx: &Ctxt, meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<Upcast>> {
    let mut from = Once::new(UPCAST, FROM);
    let mut with = Once::new(UPCAST, WITH);
    let mut via = Once::new(UPCAST, VIA);
    let errors_before = cx.error_count();
    meta.parse_nested_meta(|inner| {
        attr::recover(cx, &inner, |inner| {
            // upcast(from = 1, ...)
            if inner.path.is_ident(FROM) {
                let parsed = attr::version_value(inner)?;
                from.set(cx, inner, parsed)
            // upcast(..., with = ShippedV1, ...)
            } else if inner.path.is_ident(WITH) {
                let ty: Type = inner.value()?.parse()?;
                with.set(cx, inner, ty)
            // upcast(..., via = upgrade_shipped)
            } else if inner.path.is_ident(VIA) {
                let path: Path = inner.value()?.parse()?;
                via.set(cx, inner, path)
            } else {
                Err(attr::unknown_key_in(inner, "`upcast(...)`", &[FROM, WITH, VIA]))
            }
        })
    })?;
    if cx.error_count() > errors_before {
        return Ok(None);
    }
    match (from.get(), with.get()) {
        (Some((from, from_lit)), Some(with)) => Ok(Some(Upcast { from, from_lit, with, via: via.get() })),
        (Some((from, _)), None) => Err(meta.error(format_args!(
            "`upcast(from = {from})` is missing `with = ...`: the struct that stored events of version {from} decode into"
        ))),
        (None, _) => Err(meta.error(
            "`upcast(...)` is missing `from = N`: the older version that its `with` type decodes",
        )),
    }
}
