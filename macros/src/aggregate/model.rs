//! The aggregate's impl block as eventsmith sees it: its arguments and handler methods.

use proc_macro2::TokenStream;
use syn::{Attribute, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Meta, Path, ReturnType, Type};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::naming;
use crate::sig::{
    apply_argument, by_value_or_ref, check_plain, check_receiver, last_segment_args, type_name, typed_param,
};
use crate::symbol::{APPLY, COMMAND, ERROR, EVENT_KEY, IGNORE, NAME, SNAPSHOT_EVERY, SNAPSHOT_REVISION};

pub struct AggregateImpl<'a> {
    pub self_ty: &'a Type,
    /// The aggregate's stream name.
    pub name: String,
    pub event: Path,
    pub error: Type,
    pub ignores: Vec<EventRef>,
    pub snapshots: Option<Snapshots>,
    pub commands: Vec<CommandHandler<'a>>,
    pub applies: Vec<ApplyHandler<'a>>,
}

/// `#[aggregate(snapshot_every = N, snapshot_revision = R)]`.
pub struct Snapshots {
    pub every: syn::LitInt,
    pub revision: u32,
}

/// An event named by an `#[apply]` method or in `ignore(...)`.
pub enum EventRef {
    /// An event struct: `OrderShipped`.
    Struct(Type),
    /// A unit variant: `OrderEvent::Cancelled`.
    Unit(Path),
}

pub struct CommandHandler<'a> {
    pub method: &'a Ident,
    pub command: &'a Type,
    /// The handler takes `&Command` rather than `Command`.
    pub by_ref: bool,
    pub output: Output<'a>,
    /// The `E` of the returned `Result<_, E>`.
    pub error_ty: &'a Type,
}

/// What a `#[command]` method returns in its `Ok`.
pub enum Output<'a> {
    One(&'a Type),
    Option(&'a Type),
    Many(&'a Type),
}

pub struct ApplyHandler<'a> {
    pub method: &'a Ident,
    pub event: EventRef,
}

impl EventRef {
    /// The type the `Apply` impl is for.
    pub fn applied_type(&self) -> TokenStream {
        match self {
            Self::Struct(ty) => quote::quote!(#ty),
            Self::Unit(path) => {
                let marker = naming::unit_marker(path).unwrap_or_else(|| path.clone());
                quote::quote!(#marker)
            }
        }
    }

    /// The text that identifies the event, to compare two references.
    pub fn key(&self) -> String {
        match self {
            Self::Struct(ty) => quote::quote!(#ty).to_string(),
            Self::Unit(path) => quote::quote!(#path).to_string(),
        }
    }

    pub fn tokens(&self) -> TokenStream {
        match self {
            Self::Struct(ty) => quote::quote!(#ty),
            Self::Unit(path) => quote::quote!(#path),
        }
    }
}

impl<'a> AggregateImpl<'a> {
    pub fn lower(cx: &Ctxt, args: TokenStream, item: &'a ItemImpl) -> Option<Self> {
        if let Some((_, trait_path, _)) = &item.trait_ {
            cx.error_on(
                trait_path,
                "`#[aggregate]` goes on the aggregate's own `impl State { ... }` block, not on a trait impl",
            );
            return None;
        }
        if !item.generics.params.is_empty() {
            cx.error_on(&item.generics, "an aggregate cannot be generic: its stream name and events are concrete");
            return None;
        }
        // The methods are read even when the arguments have errors, so that theirs are
        // reported too.
        let args = Args::parse(cx, args);
        let names = Names::of(args.as_ref());
        let mut commands = Vec::new();
        let mut applies = Vec::new();
        for impl_item in &item.items {
            let ImplItem::Fn(method) = impl_item else { continue };
            let command = attr::named(&method.attrs, COMMAND).next();
            let apply = attr::named(&method.attrs, APPLY).next();
            match (command, apply) {
                (Some(_), Some(apply)) => cx.error_on(
                    apply,
                    "a method is either a `#[command]` handler (decides) or an `#[apply]` method (changes state), not both",
                ),
                (Some(marker), None) => commands.extend(CommandHandler::lower(cx, marker, method, &names)),
                (None, Some(marker)) => applies.extend(ApplyHandler::lower(cx, marker, method, &names)),
                (None, None) => {}
            }
        }
        let args = args?;
        let name = args.name.as_ref().map_or_else(|| type_name(&item.self_ty), LitStr::value);
        Some(Self {
            self_ty: &item.self_ty,
            name,
            event: args.event,
            error: args.error,
            ignores: args.ignores,
            snapshots: args.snapshots,
            commands,
            applies,
        })
    }
}

struct Args {
    event: Path,
    error: Type,
    name: Option<LitStr>,
    ignores: Vec<EventRef>,
    snapshots: Option<Snapshots>,
}

impl Args {
    fn parse(cx: &Ctxt, args: TokenStream) -> Option<Self> {
        let mut event = Once::new("aggregate", EVENT_KEY);
        let mut error = Once::new("aggregate", ERROR);
        let mut name = Once::new("aggregate", NAME);
        let mut ignores = Vec::new();
        let mut every = Once::new("aggregate", SNAPSHOT_EVERY);
        let mut revision = Once::new("aggregate", SNAPSHOT_REVISION);
        let parser = syn::meta::parser(|meta| {
            attr::recover(cx, &meta, |meta| {
                // #[aggregate(event = OrderEvent)]
                if meta.path.is_ident(EVENT_KEY) {
                    let path: Path = meta.value()?.parse()?;
                    event.set(cx, meta, path)
                // #[aggregate(error = OrderError)]
                } else if meta.path.is_ident(ERROR) {
                    let ty: Type = meta.value()?.parse()?;
                    error.set(cx, meta, ty)
                // #[aggregate(name = "Order")]
                } else if meta.path.is_ident(NAME) {
                    let lit = attr::string_value(meta)?;
                    name.set(cx, meta, lit)
                // #[aggregate(ignore(OrderShipped, OrderEvent::Cancelled))]
                } else if meta.path.is_ident(IGNORE) {
                    meta.parse_nested_meta(|ignored| {
                        ignores.push(event_ref(ignored.path.clone()));
                        Ok(())
                    })
                // #[aggregate(snapshot_every = 500)]
                } else if meta.path.is_ident(SNAPSHOT_EVERY) {
                    let (_, lit) = attr::version_value(meta).map_err(|error| {
                        syn::Error::new(error.span(), "`snapshot_every` is a number of events, at least 1")
                    })?;
                    every.set(cx, meta, lit)
                // #[aggregate(snapshot_revision = 2)]
                } else if meta.path.is_ident(SNAPSHOT_REVISION) {
                    let (number, _) = attr::version_value(meta)?;
                    revision.set(cx, meta, number)
                } else {
                    Err(attr::unknown_key(
                        meta,
                        "aggregate",
                        &[EVENT_KEY, ERROR, NAME, IGNORE, SNAPSHOT_EVERY, SNAPSHOT_REVISION],
                    ))
                }
            })
        });
        let errors_before = cx.error_count();
        if let Err(error) = syn::parse::Parser::parse2(parser, args) {
            cx.push(error);
        }
        if cx.error_count() > errors_before {
            // A key with a bad value was reported; saying it is missing too would repeat it.
            return None;
        }
        let (event, error) = match (event.get(), error.get()) {
            (Some(event), Some(error)) => (event, error),
            (event, error) => {
                let missing = match (event, error) {
                    (None, None) => "`event = YourEvent` and `error = YourError`",
                    (None, Some(_)) => "`event = YourEvent` (the enum deriving `Event`)",
                    _ => "`error = YourError` (the error its command handlers return)",
                };
                // On the attribute itself: that is where the key goes.
                cx.push(syn::Error::new(
                    proc_macro2::Span::call_site(),
                    format_args!("`#[aggregate(...)]` is missing {missing}"),
                ));
                return None;
            }
        };
        let revision_key = revision.span();
        let revision = revision.get();
        let snapshots = match every.get() {
            Some(every) => Some(Snapshots { every, revision: revision.unwrap_or(1) }),
            None if revision.is_some() => {
                cx.push(syn::Error::new(
                    revision_key.unwrap_or_else(proc_macro2::Span::call_site),
                    "`snapshot_revision` needs `snapshot_every = N`, which turns snapshots on",
                ));
                return None;
            }
            None => None,
        };
        Some(Self { event, error, name: name.get(), ignores, snapshots })
    }
}

fn event_ref(path: Path) -> EventRef {
    if naming::is_variant_path(&path) {
        EventRef::Unit(path)
    } else {
        EventRef::Struct(Type::Path(syn::TypePath { qself: None, path }))
    }
}

impl<'a> CommandHandler<'a> {
    fn lower(cx: &Ctxt, marker: &Attribute, method: &'a ImplItemFn, names: &Names) -> Option<Self> {
        let sig = &method.sig;
        if !matches!(marker.meta, Meta::Path(_)) {
            cx.error_on(
                marker,
                "`#[command]` on a method takes no arguments; the command type is the method's parameter",
            );
        }
        check_plain(cx, method, "a `#[command]` handler")?;
        check_receiver(
            cx,
            sig,
            false,
            "a `#[command]` handler takes `&self`: it decides from the current state and returns events; \
             state changes belong in `#[apply]` methods",
        )?;
        let params: Vec<_> = sig.inputs.iter().filter_map(typed_param).collect();
        let command = match params.as_slice() {
            [command] => *command,
            [_, extra @ ..] => {
                for extra in extra {
                    cx.error_on(extra, "a `#[command]` handler takes one command; remove this parameter");
                }
                return None;
            }
            [] => {
                cx.error_on(
                    &sig.inputs,
                    "a `#[command]` handler takes `&self` and the command: `fn handle(&self, command: YourCommand)`",
                );
                return None;
            }
        };
        let (command, by_ref) = by_value_or_ref(cx, command, "command")?;
        let ReturnType::Type(_, output_ty) = &sig.output else {
            cx.error_on(
                sig,
                format_args!(
                    "a `#[command]` handler returns `Result<E, {error}>`, where `E` is an event struct of `{event}`, \
                     `{event}` itself, or an `Option`, `Vec` or array of them",
                    event = names.event,
                    error = names.error,
                ),
            );
            return None;
        };
        let Some((ok, error_ty)) = result_types(output_ty) else {
            cx.error_on(
                output_ty,
                format_args!(
                    "a `#[command]` handler returns `Result<E, {error}>`, with both types written out, where `E` is \
                     an event struct of `{event}`, `{event}` itself, or an `Option`, `Vec` or array of them",
                    event = names.event,
                    error = names.error,
                ),
            );
            return None;
        };
        Some(Self { method: &sig.ident, command, by_ref, output: classify_output(ok), error_ty })
    }
}

impl<'a> ApplyHandler<'a> {
    fn lower(cx: &Ctxt, marker: &Attribute, method: &'a ImplItemFn, names: &Names) -> Option<Self> {
        let sig = &method.sig;
        let unit = match apply_argument(cx, marker).ok()? {
            None => None,
            Some(path) if naming::is_variant_path(&path) => Some(path),
            Some(path) => {
                cx.error_on(
                    path,
                    "`#[apply(...)]` names a unit variant of the event enum, e.g. `#[apply(OrderEvent::Cancelled)]`; \
                     for an event struct, write `#[apply]` and take `event: &EventStruct`",
                );
                return None;
            }
        };
        check_plain(cx, method, "an `#[apply]` method")?;
        check_receiver(cx, sig, true, "an `#[apply]` method takes `&mut self`: it changes the state by one event")?;
        if let ReturnType::Type(_, ty) = &sig.output {
            cx.error_on(
                ty,
                "an `#[apply]` method returns nothing: a stored event has happened and cannot be refused; \
                 validate in the `#[command]` handler instead",
            );
        }
        let params: Vec<_> = sig.inputs.iter().filter_map(typed_param).collect();
        let event = match (unit, params.as_slice()) {
            (Some(path), []) => EventRef::Unit(path),
            (Some(_), _) => {
                cx.error_on(
                    &sig.inputs,
                    "a unit event carries no data: an `#[apply(Enum::Variant)]` method takes only `&mut self`",
                );
                return None;
            }
            (None, [Type::Reference(reference)]) if reference.mutability.is_none() => {
                if let Some([event]) = last_segment_args(&reference.elem, "Recorded").as_deref() {
                    cx.error_on(
                        reference,
                        format_args!(
                            "an aggregate's `#[apply]` method takes the event itself: `event: &{}`; the \
                             envelope `&Recorded<...>` is for a projection's `#[apply]` methods",
                            quote::quote!(#event)
                        ),
                    );
                    return None;
                }
                EventRef::Struct((*reference.elem).clone())
            }
            (None, [other]) => {
                cx.error_on(
                    other,
                    format_args!(
                        "an `#[apply]` method takes the event by shared reference: write `&{}`",
                        quote::quote!(#other)
                    ),
                );
                return None;
            }
            (None, _) => {
                cx.error_on(
                    &sig.inputs,
                    format_args!(
                        "an `#[apply]` method takes `&mut self` and the event: `fn on_event(&mut self, event: &EventStruct)`; \
                         for a unit variant of `{event}`, write `#[apply({event}::Variant)]` and take only `&mut self`",
                        event = names.event
                    ),
                );
                return None;
            }
        };
        Some(Self { method: &sig.ident, event })
    }
}

/// The `T` of `Result<T, E>`.
/// The aggregate's event enum and error type as the user wrote them, for messages; general
/// words where the arguments have errors.
struct Names {
    event: String,
    error: String,
}

impl Names {
    fn of(args: Option<&Args>) -> Self {
        match args {
            Some(args) => {
                let (event, error) = (&args.event, &args.error);
                Self { event: quote::quote!(#event).to_string(), error: quote::quote!(#error).to_string() }
            }
            None => Self { event: "YourEvent".to_owned(), error: "YourError".to_owned() },
        }
    }
}

/// The `T` and `E` of `Result<T, E>`.
fn result_types(ty: &Type) -> Option<(&Type, &Type)> {
    let args = last_segment_args(ty, "Result")?;
    match args.as_slice() {
        [ok, error] => Some((ok, error)),
        _ => None,
    }
}

fn classify_output(ty: &Type) -> Output<'_> {
    if let Type::Array(array) = ty {
        return Output::Many(&array.elem);
    }
    if let Some([inner]) = last_segment_args(ty, "Option").as_deref() {
        return Output::Option(inner);
    }
    if let Some([inner]) = last_segment_args(ty, "Vec").as_deref() {
        return Output::Many(inner);
    }
    Output::One(ty)
}

/// The user's impl block without the `#[command]` and `#[apply]` markers.
///
/// A handler's signature is fixed by the macro, so the lints that would ask for another
/// signature are allowed on it: a `Result` that is never an error, a state that is not
/// read, a command taken by value.
pub fn strip_markers(mut item: ItemImpl) -> ItemImpl {
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            let is_command = attr::named(&method.attrs, COMMAND).next().is_some();
            let is_apply = attr::named(&method.attrs, APPLY).next().is_some();
            method.attrs.retain(|attr| !attr.path().is_ident(COMMAND) && !attr.path().is_ident(APPLY));
            if is_command {
                method.attrs.push(syn::parse_quote! {
                    #[allow(
                        clippy::unnecessary_wraps,
                        clippy::unused_self,
                        clippy::needless_pass_by_value,
                        reason = "the signature of a `#[command]` handler is fixed by `#[aggregate]`"
                    )]
                });
            } else if is_apply {
                method.attrs.push(syn::parse_quote! {
                    #[allow(clippy::unused_self, reason = "the signature of an `#[apply]` method is fixed by `#[aggregate]`")]
                });
            }
        }
    }
    item
}
