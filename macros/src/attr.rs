//! Parsing shared by every macro's attributes.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitInt, LitStr};

use crate::ctxt::Ctxt;

/// The attributes named `name` among `attrs`.
pub fn named<'a>(attrs: &'a [Attribute], name: &'a str) -> impl Iterator<Item = &'a Attribute> {
    attrs.iter().filter(move |attr| attr.path().is_ident(name))
}

/// The key of a nested meta item as text, for messages.
pub fn key(meta: &ParseNestedMeta<'_>) -> String {
    meta.path.get_ident().map_or_else(
        || {
            let path = &meta.path;
            quote::quote!(#path).to_string()
        },
        ToString::to_string,
    )
}

/// Reports an unknown key on its own token, listing the keys that are accepted.
pub fn unknown_key(meta: &ParseNestedMeta<'_>, attribute: &str, accepted: &[&str]) -> syn::Error {
    let accepted = accepted.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ");
    meta.error(format_args!("unknown key `{}` in `#[{attribute}(...)]`; expected one of {accepted}", key(meta)))
}

/// Stores a value the first time a key is seen and reports a repeated key.
pub struct Once<T> {
    attribute: &'static str,
    key: &'static str,
    value: Option<T>,
}

impl<T> Once<T> {
    pub fn new(attribute: &'static str, key: &'static str) -> Self {
        Self { attribute, key, value: None }
    }

    pub fn set(&mut self, meta: &ParseNestedMeta<'_>, value: T) -> syn::Result<()> {
        if self.value.is_some() {
            return Err(meta.error(format_args!("`{}` is given twice in `#[{}(...)]`", self.key, self.attribute)));
        }
        self.value = Some(value);
        Ok(())
    }

    pub fn get(self) -> Option<T> {
        self.value
    }
}

/// Parses `= "non-empty string"`.
pub fn string_value(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let lit: LitStr = meta.value()?.parse()?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(lit.span(), format_args!("`{}` must not be empty", key(meta))));
    }
    Ok(lit)
}

/// Parses `= N` with N at least 1.
pub fn version_value(meta: &ParseNestedMeta<'_>) -> syn::Result<(u32, LitInt)> {
    let lit: LitInt = meta.value()?.parse()?;
    match lit.base10_parse::<u32>() {
        Ok(version) if version >= 1 => Ok((version, lit)),
        _ => Err(syn::Error::new(lit.span(), "a version is a whole number from 1 up to 4294967295")),
    }
}

/// Parses every `#[name(...)]` among `attrs` with `parse`, reporting errors to `cx`.
pub fn parse_each(
    cx: &Ctxt,
    attrs: &[Attribute],
    name: &str,
    mut parse: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in named(attrs, name) {
        if let Err(error) = attr.parse_nested_meta(&mut parse) {
            cx.push(error);
        }
    }
}
