//! Derive and attribute macros of eventsmith. Each entry parses its input, hands it to the
//! macro's `expand`, and turns errors into `compile_error!` on the user's tokens.
//!
//! Use them through the `eventsmith` crate, which documents them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod aggregate;
mod attr;
mod command;
mod ctxt;
mod envelope;
mod event;
mod naming;
mod projection;
mod sig;
mod symbol;

#[cfg(test)]
mod snapshots;

use proc_macro::TokenStream;
use syn::{DeriveInput, ItemImpl, parse_macro_input};

/// Derives `Event` for an enum of event types: stable names and versions, JSON encoding,
/// typed decoding, `From` for each payload, and the dispatch the replay fold uses.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    event::expand(&input).into()
}

/// Derives `Command` for a command struct (`#[command(aggregate = A)]`, one `#[command(id)]`
/// field), or `CommandEnvelope` for an enum of command structs.
#[proc_macro_derive(Command, attributes(command))]
pub fn derive_command(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    command::expand(&input).into()
}

/// Implements `Aggregate` for the state type of an impl block with `#[command]` and
/// `#[apply]` methods: `#[aggregate(event = E, error = Err)]`.
#[proc_macro_attribute]
pub fn aggregate(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = parse_macro_input!(input as ItemImpl);
    aggregate::expand(args.into(), item).into()
}

/// Implements `Projection` for a read model's impl block with `#[apply]` and `#[query]`
/// methods: `#[projection(name = "orders", events = OrderEvent)]`.
#[proc_macro_attribute]
pub fn projection(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = parse_macro_input!(input as ItemImpl);
    projection::expand(args.into(), item).into()
}

/// Derives `Envelope` and `CommandEnvelope` for an enum of command structs: decodes the seed's
/// `{"type": "CreateOrder", "data": {...}}` envelope and routes the command to its aggregate.
/// (`#[derive(Command)]` on such an enum does the same.)
#[proc_macro_derive(CommandEnvelope, attributes(command))]
pub fn derive_command_envelope(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    envelope::expand(&input, envelope::Kind::Commands).into()
}

/// Derives `Envelope` and `QueryEnvelope` for an enum of query structs: decodes the seed's
/// `{"type": "GetOrder", "data": {...}}` envelope and answers the query as JSON.
#[proc_macro_derive(QueryEnvelope, attributes(query))]
pub fn derive_query_envelope(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    envelope::expand(&input, envelope::Kind::Queries).into()
}

/// The former name of `#[derive(QueryEnvelope)]`, which says what it makes; this one warns.
#[proc_macro_derive(Query, attributes(query))]
pub fn derive_query(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let derived = envelope::expand(&input, envelope::Kind::Queries);
    let warning = quote::quote_spanned! {input.ident.span()=>
        const _: () = {
            #[deprecated(note = "`#[derive(Query)]` is now `#[derive(QueryEnvelope)]`, which says what it makes")]
            struct DeriveQuery;
            let _ = DeriveQuery;
        };
    };
    quote::quote!(#derived #warning).into()
}
