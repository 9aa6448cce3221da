//! Parsing shared by every macro's attributes.

use proc_macro2::{Span, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitInt, LitStr, Token, token};

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
    unknown_key_in(meta, &format!("`#[{attribute}(...)]`"), accepted)
}

/// [`unknown_key`] in a place that is not an attribute of its own, such as `upcast(...)`.
pub fn unknown_key_in(meta: &ParseNestedMeta<'_>, place: &str, accepted: &[&str]) -> syn::Error {
    let listed = accepted.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ");
    let expected = if accepted.len() == 1 { listed } else { format!("one of {listed}") };
    meta.error(format_args!("unknown key `{}` in {place}; expected {expected}", key(meta)))
}

/// Stores a value the first time a key is seen. A repeated key is reported at both places
/// and parsing goes on, so that the other mistakes of the attribute are reported too.
pub struct Once<T> {
    attribute: &'static str,
    key: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Once<T> {
    pub fn new(attribute: &'static str, key: &'static str) -> Self {
        Self { attribute, key, value: None }
    }

    pub fn set(&mut self, cx: &Ctxt, meta: &ParseNestedMeta<'_>, value: T) -> syn::Result<()> {
        let (attribute, key) = (self.attribute, self.key);
        match &self.value {
            Some((first, _)) => {
                cx.push(meta.error(format_args!("`{key}` is given twice in `#[{attribute}(...)]`; keep one")));
                cx.push(syn::Error::new(*first, format_args!("`{key}` is first given here")));
            }
            None => self.value = Some((syn::spanned::Spanned::span(&meta.path), value)),
        }
        Ok(())
    }

    /// Where the key was given, if it was.
    pub fn span(&self) -> Option<Span> {
        self.value.as_ref().map(|(span, _)| *span)
    }

    pub fn get(self) -> Option<T> {
        self.value.map(|(_, value)| value)
    }
}

/// Parses one `key ...` item of an attribute with `parse`. An error is reported and the
/// rest of the item skipped, so that parsing goes on with the next item: one mistake does
/// not hide the others.
pub fn recover(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    parse: impl FnOnce(&ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    if let Err(error) = parse(meta) {
        cx.push(error);
        skip_rest_of_item(meta)?;
    }
    Ok(())
}

/// Skips the tokens of the current item, up to the comma before the next one.
pub fn skip_rest_of_item(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            if matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
}

/// Skips what is left of `input`, after an error in it: a parse buffer dropped with tokens
/// left would report them as unexpected, a second error for one mistake.
pub fn skip_all(input: syn::parse::ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((_, next)) = rest.token_tree() {
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Reads a flag key (`#[command(id)]`, `#[projection(persist)]`). A value given to it is
/// reported and skipped, and the flag counts as given, so that nothing else is reported.
pub fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, attribute: &str) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(token::Paren) {
        let key = key(meta);
        cx.push(meta.error(format_args!(
            "`{key}` is a flag and takes no value: write `#[{attribute}({key})]`, or leave it out"
        )));
        skip_rest_of_item(meta)?;
    }
    Ok(())
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

/// Parses every `#[name(...)]` among `attrs` with `parse`, one item at a time, reporting
/// errors to `cx` and going on after each (see [`recover`]).
pub fn parse_each(
    cx: &Ctxt,
    attrs: &[Attribute],
    name: &str,
    mut parse: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in named(attrs, name) {
        if let Err(error) = attr.parse_nested_meta(|meta| recover(cx, &meta, &mut parse)) {
            cx.push(error);
        }
    }
}
