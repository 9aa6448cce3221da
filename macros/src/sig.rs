//! Reading method signatures, shared by `#[aggregate]` and `#[projection]`.

use syn::{Attribute, FnArg, GenericArgument, ImplItemFn, Meta, Path, PathArguments, Signature, Type};

use crate::ctxt::Ctxt;

/// Handlers are plain synchronous methods: no `async`, no generics.
pub fn check_plain(cx: &Ctxt, method: &ImplItemFn, what: &str) -> Option<()> {
    let sig = &method.sig;
    if let Some(asyncness) = &sig.asyncness {
        cx.error_on(
            asyncness,
            format_args!("{what} is synchronous: it works on state in memory; do any I/O outside it"),
        );
        return None;
    }
    if !sig.generics.params.is_empty() {
        cx.error_on(&sig.generics, format_args!("{what} cannot be generic"));
        return None;
    }
    Some(())
}

pub fn typed_param(arg: &FnArg) -> Option<&Type> {
    match arg {
        FnArg::Typed(pat) => Some(&pat.ty),
        FnArg::Receiver(_) => None,
    }
}

/// The type arguments of `ty` if its last path segment is `name<...>`.
pub fn last_segment_args<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else { return None };
    Some(
        args.args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
    )
}

pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(path) => path.path.segments.last().map_or_else(String::new, |segment| segment.ident.to_string()),
        other => quote::quote!(#other).to_string(),
    }
}

/// Whether `ty` borrows: a reference or a lifetime anywhere in it, other than `'static`.
pub fn borrows(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => {
            reference.lifetime.as_ref().is_none_or(|lifetime| lifetime.ident != "static") || borrows(&reference.elem)
        }
        Type::Path(path) => path.path.segments.iter().any(|segment| match &segment.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                GenericArgument::Type(ty) => borrows(ty),
                GenericArgument::Lifetime(lifetime) => lifetime.ident != "static",
                _ => false,
            }),
            _ => false,
        }),
        Type::Tuple(tuple) => tuple.elems.iter().any(borrows),
        Type::Array(array) => borrows(&array.elem),
        Type::Slice(slice) => borrows(&slice.elem),
        Type::Paren(paren) => borrows(&paren.elem),
        Type::Group(group) => borrows(&group.elem),
        _ => false,
    }
}

/// The parameter type of a command or query, taken by value or by shared reference:
/// `(type, by_ref)`. `&mut` is reported.
pub fn by_value_or_ref<'a>(cx: &Ctxt, ty: &'a Type, what: &str) -> Option<(&'a Type, bool)> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_none() => Some((&reference.elem, true)),
        Type::Reference(reference) => {
            cx.error_on(reference, format_args!("take the {what} by value or by shared reference, not `&mut`"));
            None
        }
        other => Some((other, false)),
    }
}

/// Checks that a handler takes `&self` (`mutable: false`) or `&mut self`, reporting
/// `message` on the receiver (or the signature, without one).
pub fn check_receiver(cx: &Ctxt, sig: &Signature, mutable: bool, message: &str) -> Option<()> {
    let receiver = sig.receiver();
    if receiver.is_some_and(|receiver| receiver.reference.is_some() && receiver.mutability.is_some() == mutable) {
        return Some(());
    }
    match receiver {
        Some(receiver) => cx.error_on(receiver, message),
        None => cx.error_on(sig, message),
    }
    None
}

/// The argument of `#[apply]` or `#[apply(Path)]`: `Ok(None)`, `Ok(Some(path))`, or `Err(())`
/// after reporting a malformed attribute.
pub fn apply_argument(cx: &Ctxt, marker: &Attribute) -> Result<Option<Path>, ()> {
    match &marker.meta {
        Meta::Path(_) => Ok(None),
        Meta::List(_) => marker.parse_args::<Path>().map(Some).map_err(|error| cx.push(error)),
        Meta::NameValue(_) => {
            cx.error_on(marker, "write `#[apply]`, or `#[apply(YourEvent::UnitVariant)]` for a unit variant");
            Err(())
        }
    }
}

/// `ty` with every `Self` in it replaced by `self_ty`: a method's return type written in the
/// read model's impl block, moved into an impl for another type (the query's), where `Self`
/// would mean that type instead.
pub fn self_replaced(ty: &Type, self_ty: &Type) -> proc_macro2::TokenStream {
    fn replace(tokens: proc_macro2::TokenStream, self_ty: &Type) -> proc_macro2::TokenStream {
        use proc_macro2::{Group, TokenTree};
        tokens
            .into_iter()
            .flat_map(|tree| match tree {
                TokenTree::Ident(ident) if ident == "Self" => quote::quote!(#self_ty),
                TokenTree::Group(group) => {
                    let mut replaced = Group::new(group.delimiter(), replace(group.stream(), self_ty));
                    replaced.set_span(group.span());
                    TokenTree::Group(replaced).into()
                }
                other => other.into(),
            })
            .collect()
    }
    replace(quote::quote!(#ty), self_ty)
}
