//! Semantic checks of a projection. Emits no tokens.
//!
//! Whether each `#[apply]` event belongs to one of the declared enums, and whether two
//! projections answer one query, is checked by the compiler through the generated bounds.

use quote::ToTokens;

use super::model::ProjectionImpl;
use crate::ctxt::Ctxt;

/// How many event enums one projection can consume (the runtime's `Member` impls).
const MAX_ENUMS: usize = 4;

pub fn check(cx: &Ctxt, model: &ProjectionImpl<'_>) {
    if model.events.is_empty() {
        cx.error_on(&model.name, "a projection consumes at least one event enum: `events = YourEvent`");
    }
    if model.events.len() > MAX_ENUMS {
        cx.error_on(
            &model.events[MAX_ENUMS],
            format_args!(
                "a projection consumes at most {MAX_ENUMS} event enums; split it into projections of fewer enums each"
            ),
        );
    }
    for (index, path) in model.events.iter().enumerate() {
        let key = path.to_token_stream().to_string();
        if model.events[..index].iter().any(|earlier| earlier.to_token_stream().to_string() == key) {
            cx.error_on(path, format_args!("`{key}` is listed twice in `events(...)`"));
        }
    }
    if model.apply_marked == 0 {
        cx.error_on(
            model.self_ty,
            "a projection needs at least one `#[apply]` method: `fn on_event(&mut self, event: &Recorded<EventStruct>)`",
        );
    }
    for apply in &model.applies {
        if let (Some(key), None) = (&apply.key, &model.documents) {
            cx.error_on(
                key,
                "`key = ...` picks the document an event updates: it goes with `#[projection(..., documents)]`",
            );
        }
        if let Some(from) = &apply.from
            && model.enum_index(from).is_none()
        {
            cx.error_on(
                from,
                format_args!(
                    "`{}` is not one of this projection's enums ({}); list it in `#[projection(events(...))]`",
                    from.to_token_stream(),
                    model
                        .events
                        .iter()
                        .map(|event| format!("`{}`", event.to_token_stream()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    for (index, apply) in model.applies.iter().enumerate() {
        let key = apply.event.key();
        if let Some(first) = model.applies[..index].iter().find(|earlier| earlier.event.key() == key) {
            cx.error_on(
                apply.event.tokens(),
                format_args!("event `{key}` is applied twice; merge the two `#[apply]` methods"),
            );
            cx.error_on(first.event.tokens(), format_args!("`{key}` is first applied by `{}` here", first.method));
        }
    }
    for (index, query) in model.queries.iter().enumerate() {
        let key = query.query.to_token_stream().to_string();
        if let Some(first) =
            model.queries[..index].iter().find(|earlier| earlier.query.to_token_stream().to_string() == key)
        {
            cx.error_on(
                query.query,
                format_args!("query `{key}` is answered twice; a query has exactly one `#[query]` method"),
            );
            cx.error_on(first.query, format_args!("`{key}` is first answered by `{}` here", first.method));
        }
    }
}
