//! What the macros say of each part of a domain for the [catalog](crate::catalog): a
//! command handler's entry and a query's, as the domain's traits return them. Below those
//! traits, so that they can name these types without reaching the catalog.

use serde::Serialize;

/// A command and what its handler may produce.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandEntry {
    /// The command's Rust type, without the module path.
    pub rust_type: String,
    /// What the command expects of the stream: `"new"`, `"existing"` or `"any"`.
    pub expects: &'static str,
    /// The stored names of the events the handler may produce (for a handler that returns
    /// the enum itself: every event type it can write).
    pub produces: Vec<&'static str>,
}

impl CommandEntry {
    /// The entry of command `C`, which expects `expects` of its stream (`"new"`,
    /// `"existing"` or `"any"`: [`ExpectStream::name`](crate::command::ExpectStream::name))
    /// and produces events named `produces`.
    #[must_use]
    pub fn of<C: ?Sized>(expects: &'static str, produces: &'static [&'static str]) -> Self {
        Self { rust_type: short_type_name::<C>(), expects, produces: produces.to_vec() }
    }
}

/// A query and the type of its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryEntry {
    /// The query's Rust type, without the module path.
    pub rust_type: String,
    /// The answer's Rust type, without module paths.
    pub answer: String,
}

impl QueryEntry {
    /// The entry of query `Q` answered with `A`.
    #[must_use]
    pub fn of<Q: ?Sized, A: ?Sized>() -> Self {
        Self { rust_type: short_type_name::<Q>(), answer: short_type_name::<A>() }
    }
}

/// `T`'s name without module paths: `Option<OrderSummary>` for
/// `core::option::Option<orders::OrderSummary>`.
#[must_use]
pub fn short_type_name<T: ?Sized>() -> String {
    short_type_name_of(std::any::type_name::<T>())
}

/// [`short_type_name`] of a type's full name.
#[must_use]
pub fn short_type_name_of(full: &str) -> String {
    let mut short = String::with_capacity(full.len());
    let mut path = String::new();
    for character in full.chars().chain(std::iter::once('\0')) {
        if character.is_alphanumeric() || character == '_' || character == ':' {
            path.push(character);
            continue;
        }
        short.push_str(path.rsplit("::").next().unwrap_or_default());
        path.clear();
        if character != '\0' {
            short.push(character);
        }
    }
    short
}
