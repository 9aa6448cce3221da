//! Semantic checks of an event enum. Emits no tokens.

use quote::ToTokens;

use super::model::{EventEnum, Variant};
use crate::ctxt::Ctxt;

pub fn check(cx: &Ctxt, model: &EventEnum<'_>) {
    if model.declared == 0 {
        cx.error_on(model.ident, "an event enum needs at least one variant, one per event type");
    }
    check_unique_names(cx, model);
    check_unique_payloads(cx, model);
    check_aliases(cx, model);
    check_upcasts(cx, model);
}

/// Two variants stored under one name could not be told apart when decoding.
fn check_unique_names(cx: &Ctxt, model: &EventEnum<'_>) {
    for (index, variant) in model.variants.iter().enumerate() {
        if let Some(first) = model.variants[..index].iter().find(|earlier| earlier.name == variant.name) {
            let fix = "give one of them another name with `#[event(name = \"...\")]`";
            cx.error_on(name_token(variant), format_args!("duplicate event name `{}`; {fix}", variant.name));
            cx.error_on(name_token(first), format_args!("`{}` is first used here", first.name));
        }
    }
}

/// One struct in two variants would make `From<Struct>` and the fold ambiguous.
fn check_unique_payloads(cx: &Ctxt, model: &EventEnum<'_>) {
    let key = |variant: &Variant<'_>| variant.payload.map(|ty| ty.to_token_stream().to_string());
    for (index, variant) in model.variants.iter().enumerate() {
        let Some(payload) = key(variant) else { continue };
        if let Some(first) = model.variants[..index].iter().find(|earlier| key(earlier).as_ref() == Some(&payload)) {
            cx.error_on(
                variant.payload,
                format_args!(
                    "`{payload}` is already wrapped by variant `{}`; each event type is one struct \
                     in one variant, so give this variant a struct of its own",
                    first.ident
                ),
            );
            cx.error_on(first.payload, format_args!("`{payload}` is first wrapped here"));
        }
    }
}

/// The token a name comes from: the `name = "..."` literal, or the variant's ident.
fn name_token(variant: &Variant<'_>) -> proc_macro2::TokenStream {
    variant.name_lit.as_ref().map_or_else(|| variant.ident.to_token_stream(), ToTokens::to_token_stream)
}

/// Old names decode stored events: each must be unique across every name and alias.
pub fn check_aliases(cx: &Ctxt, model: &EventEnum<'_>) {
    let mut seen: Vec<(String, proc_macro2::TokenStream)> =
        model.variants.iter().map(|variant| (variant.name.clone(), name_token(variant))).collect();
    for variant in &model.variants {
        for alias in &variant.aliases {
            let value = alias.value();
            if let Some((_, first)) = seen.iter().find(|(name, _)| *name == value) {
                cx.error_on(
                    alias,
                    format_args!("the alias `{value}` is already a name or alias in this enum; stored events could not be told apart"),
                );
                cx.error_on(first, format_args!("`{value}` is first used here"));
            } else {
                seen.push((value, alias.to_token_stream()));
            }
        }
    }
}

/// An upcaster chain runs from its oldest version to the current one without gaps.
pub fn check_upcasts(cx: &Ctxt, model: &EventEnum<'_>) {
    for variant in &model.variants {
        if variant.payload.is_none() {
            if !variant.upcasts.is_empty() {
                cx.error_on(
                    variant.ident,
                    format_args!(
                        "`{}` is a unit event: it has no payload to upcast; give it a struct to version it",
                        variant.ident
                    ),
                );
            }
            continue;
        }
        let version = variant.version;
        for (index, upcast) in variant.upcasts.iter().enumerate() {
            if upcast.from >= version {
                let at =
                    variant.version_lit.as_ref().map_or_else(|| "1 (the default)".to_owned(), |_| version.to_string());
                let fix = if version > 1 {
                    format!("use a `from` below {version}, or raise `version` on the variant")
                } else {
                    "raise `version` on the variant".to_owned()
                };
                cx.error_on(
                    &upcast.from_lit,
                    format_args!(
                        "`from = {}` is not below the current version {at}: an upcaster turns an older version into a newer one; \
                         {fix}",
                        upcast.from
                    ),
                );
            }
            if let Some(first) = variant.upcasts[..index].iter().find(|earlier| earlier.from == upcast.from) {
                cx.error_on(
                    &upcast.from_lit,
                    format_args!("version {} is upcast twice; keep one upcaster per version", upcast.from),
                );
                cx.error_on(&first.from_lit, format_args!("version {} is first upcast here", first.from));
            }
        }
        let Some(oldest) = variant.upcasts.iter().map(|upcast| upcast.from).filter(|&from| from < version).min() else {
            continue;
        };
        let missing: Vec<u32> =
            (oldest..version).filter(|step| !variant.upcasts.iter().any(|upcast| upcast.from == *step)).collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|step| format!("`upcast(from = {step}, with = ...)`"))
                .collect::<Vec<_>>()
                .join(", ");
            let versions = missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            let message = format!(
                "the upcasters of `{}` leave a gap: no upcaster reads version {versions}, which stored events of \
                 the versions below it pass through on their way to the current version {version}; add {list}",
                variant.name,
            );
            match &variant.version_lit {
                Some(version_lit) => cx.error_on(version_lit, message),
                None => cx.error_on(&variant.upcasts[0].from_lit, message),
            }
        }
    }
}
