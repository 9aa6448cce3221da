//! The read model's impl block as eventsmith sees it: its arguments, `#[apply]` and
//! `#[query]` methods.

use proc_macro2::TokenStream;
use syn::{Attribute, ImplItem, ImplItemFn, ItemImpl, LitStr, Meta, Path, ReturnType, Type};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::naming;
use crate::sig::{check_plain, check_receiver, last_segment_args, typed_param};
use crate::symbol::{APPLY, DOCUMENTS, EVENTS, INDEX, KEY, MIGRATIONS, NAME, PERSIST, QUERY, SQL};

pub struct ProjectionImpl<'a> {
    pub self_ty: &'a Type,
    pub name: LitStr,
    pub events: Vec<Path>,
    pub persist: Option<Path>,
    /// `documents` or `documents(index(field, ...))`: a read model of documents in a
    /// database, with the fields queries filter on.
    pub documents: Option<Documents>,
    /// `sql` or `sql(migrations = [...])`: a read model in tables of its own.
    pub sql: Option<Tables>,
    pub applies: Vec<ProjectionApply<'a>>,
    /// How many methods are marked `#[apply]`, including any that failed to lower.
    pub apply_marked: usize,
    pub queries: Vec<QueryHandler<'a>>,
}

pub struct Documents {
    pub indexed: Vec<syn::Ident>,
}

pub struct Tables {
    /// The migrations, in order: each a `&'static str` expression.
    pub migrations: Vec<syn::Expr>,
}

/// Where a projection keeps its read model, which decides its methods' signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Memory,
    Documents,
    Sql,
}

pub struct ProjectionApply<'a> {
    pub method: &'a syn::Ident,
    pub event: Applied,
    /// `#[apply(key = ...)]`: the key of the document the event updates, an expression over
    /// `event` (a document projection only).
    pub key: Option<syn::Expr>,
    /// `#[apply(SomeEvent)]`: which of the projection's enums the struct is taken from, for a
    /// struct that two of them wrap.
    pub from: Option<Path>,
    /// What the method returns, if anything: a `Result` stops the projection on `Err`.
    pub output: Option<&'a Type>,
}

pub enum Applied {
    /// `&Recorded<EventStruct>`.
    Struct(Type),
    /// `#[apply(Enum::Variant)]` with `&Recorded<()>`.
    Unit(Path),
}

pub struct QueryHandler<'a> {
    pub method: &'a syn::Ident,
    pub query: &'a Type,
    pub by_ref: bool,
    pub output: &'a Type,
    /// A document projection's query: the `T` of the `Result<T, DocumentError>` it returns.
    pub answer: Option<&'a Type>,
}

/// What an `#[apply]` method has to say about a SQL projection's `#[apply]` signature.
const SQL_APPLY: &str = "async fn on_placed(sql: &mut Sql<'_>, event: &Recorded<OrderPlaced>) -> Result<(), SqlError>";

impl Applied {
    pub fn key(&self) -> String {
        self.tokens().to_string()
    }

    pub fn tokens(&self) -> TokenStream {
        match self {
            Self::Struct(ty) => quote::quote!(#ty),
            Self::Unit(path) => quote::quote!(#path),
        }
    }

    /// The type that routes the event: the struct, or the unit variant's marker.
    pub fn member_type(&self) -> TokenStream {
        match self {
            Self::Struct(ty) => quote::quote!(#ty),
            Self::Unit(path) => {
                let marker = naming::unit_marker(path).unwrap_or_else(|| path.clone());
                quote::quote!(#marker)
            }
        }
    }
}

impl ProjectionImpl<'_> {
    /// Where the projection keeps its read model.
    pub fn form(&self) -> Form {
        match (&self.documents, &self.sql) {
            (_, Some(_)) => Form::Sql,
            (Some(_), None) => Form::Documents,
            (None, None) => Form::Memory,
        }
    }

    /// The position of `path` among the projection's event enums.
    pub fn enum_index(&self, path: &Path) -> Option<usize> {
        let key = quote::quote!(#path).to_string();
        self.events.iter().position(|event| quote::quote!(#event).to_string() == key)
    }
}

impl<'a> ProjectionImpl<'a> {
    pub fn lower(cx: &Ctxt, args: TokenStream, item: &'a ItemImpl) -> Option<Self> {
        if let Some((_, trait_path, _)) = &item.trait_ {
            cx.error_on(
                trait_path,
                "`#[projection]` goes on the read model's own `impl ReadModel { ... }` block, not on a trait impl",
            );
            return None;
        }
        if !item.generics.params.is_empty() {
            cx.error_on(&item.generics, "a projection cannot be generic: its name and events are concrete");
            return None;
        }
        let mut name = Once::new("projection", NAME);
        let mut events = Once::new("projection", EVENTS);
        let mut persist = Once::new("projection", PERSIST);
        let mut documents = Once::new("projection", DOCUMENTS);
        let mut sql = Once::new("projection", SQL);
        let parser = syn::meta::parser(|meta| {
            attr::recover(cx, &meta, |meta| {
                // #[projection(name = "orders")]
                if meta.path.is_ident(NAME) {
                    let lit = attr::string_value(meta)?;
                    name.set(cx, meta, lit)
                // #[projection(events = OrderEvent)] or #[projection(events(OrderEvent, PaymentEvent))]
                } else if meta.path.is_ident(EVENTS) {
                    let mut paths = Vec::new();
                    if meta.input.peek(syn::Token![=]) {
                        paths.push(meta.value()?.parse::<Path>()?);
                    } else {
                        meta.parse_nested_meta(|inner| {
                            paths.push(inner.path.clone());
                            Ok(())
                        })?;
                    }
                    events.set(cx, meta, paths)
                // #[projection(persist)]
                } else if meta.path.is_ident(PERSIST) {
                    attr::flag(cx, meta, "projection")?;
                    persist.set(cx, meta, meta.path.clone())
                // #[projection(documents)] or #[projection(documents(index(status, customer)))]
                } else if meta.path.is_ident(DOCUMENTS) {
                    let mut indexed = Vec::new();
                    if meta.input.peek(syn::Token![=]) {
                        cx.push(meta.error(
                            "`documents` takes no value: write `documents`, or `documents(index(field, ...))` \
                             for the fields queries filter on",
                        ));
                        attr::skip_rest_of_item(meta)?;
                    } else if meta.input.peek(syn::token::Paren) {
                        // Each mistake is reported and the parse goes on, so one does not
                        // hide the next or cascade.
                        meta.parse_nested_meta(|inner| {
                            if !inner.path.is_ident(INDEX) {
                                cx.push(attr::unknown_key_in(&inner, "`documents(...)`", &[INDEX]));
                                return attr::skip_rest_of_item(&inner);
                            }
                            inner.parse_nested_meta(|field| {
                                match field.path.get_ident() {
                                    Some(ident) if indexed.contains(ident) => {
                                        cx.push(field.error(format_args!("`{ident}` is indexed already")));
                                    }
                                    Some(ident) => indexed.push(ident.clone()),
                                    None => cx.push(field.error(
                                        "an indexed field is a field name of the document: `documents(index(status))`",
                                    )),
                                }
                                attr::skip_rest_of_item(&field)
                            })
                        })?;
                    }
                    documents.set(cx, meta, Documents { indexed })
                // #[projection(sql)] or #[projection(sql(migrations = ["CREATE TABLE ...", ...]))]
                } else if meta.path.is_ident(SQL) {
                    let mut migrations = Vec::new();
                    if meta.input.peek(syn::Token![=]) {
                        cx.push(meta.error(
                            "`sql` takes no value: write `sql(migrations = [\"CREATE TABLE ...\"])` with the \
                             statements that make its tables",
                        ));
                        attr::skip_rest_of_item(meta)?;
                    } else if meta.input.peek(syn::token::Paren) {
                        meta.parse_nested_meta(|inner| {
                            if !inner.path.is_ident(MIGRATIONS) {
                                cx.push(attr::unknown_key_in(&inner, "`sql(...)`", &[MIGRATIONS]));
                                return attr::skip_rest_of_item(&inner);
                            }
                            match inner.value()?.parse::<syn::Expr>()? {
                                syn::Expr::Array(array) => migrations.extend(array.elems),
                                other => cx.error_on(
                                    other,
                                    "`migrations` is a list of statements, one per version, run once each in \
                                     order: `migrations = [\"CREATE TABLE ...\", include_str!(\"002.sql\")]`",
                                ),
                            }
                            Ok(())
                        })?;
                    }
                    sql.set(cx, meta, Tables { migrations })
                } else {
                    Err(attr::unknown_key(meta, "projection", &[NAME, EVENTS, PERSIST, DOCUMENTS, SQL]))
                }
            })
        });
        let errors_before = cx.error_count();
        if let Err(error) = syn::parse::Parser::parse2(parser, args) {
            cx.push(error);
        }
        let args_failed = cx.error_count() > errors_before;
        // The methods are read even when the arguments have errors, so that theirs are
        // reported too.
        let mut applies = Vec::new();
        let mut apply_marked = 0;
        let mut queries = Vec::new();
        // A document projection's queries read its database; the others, the model in memory.
        let form = match (documents.span().is_some(), sql.span().is_some()) {
            (_, true) => Form::Sql,
            (true, false) => Form::Documents,
            (false, false) => Form::Memory,
        };
        for impl_item in &item.items {
            let ImplItem::Fn(method) = impl_item else { continue };
            let apply = attr::named(&method.attrs, APPLY).next();
            let query = attr::named(&method.attrs, QUERY).next();
            match (apply, query) {
                (Some(_), Some(query)) => {
                    cx.error_on(query, "a method is either an `#[apply]` method or a `#[query]`, not both");
                }
                (Some(marker), None) => {
                    apply_marked += 1;
                    applies.extend(ProjectionApply::lower(cx, marker, method, form));
                }
                (None, Some(marker)) => match form {
                    Form::Memory => queries.extend(QueryHandler::lower(cx, marker, method)),
                    Form::Documents | Form::Sql => queries.extend(QueryHandler::lower_stored(cx, marker, method, form)),
                },
                (None, None) => {}
            }
        }
        if args_failed {
            // A key with a bad value was reported; saying it is missing too would repeat it.
            return None;
        }
        let (name, events) = match (name.get(), events.get()) {
            (Some(name), Some(events)) => (name, events),
            (name, _) => {
                let missing = match name {
                    None => "`name = \"...\"` (the projection's stable name, the key of its checkpoint)",
                    Some(_) => "`events = YourEvent` (or `events(FirstEvent, SecondEvent)`), the enums it consumes",
                };
                // On the attribute itself: that is where the key goes.
                cx.push(syn::Error::new(
                    proc_macro2::Span::call_site(),
                    format_args!("`#[projection(...)]` is missing {missing}"),
                ));
                return None;
            }
        };
        let sql_span = sql.span();
        let (persist, documents, sql) = (persist.get(), documents.get(), sql.get());
        if let (Some(persist), true) = (&persist, documents.is_some() || sql.is_some()) {
            cx.error_on(
                persist,
                "a projection kept in a database is saved there with its checkpoint already; remove `persist`",
            );
            return None;
        }
        if let (Some(_), Some(_)) = (&documents, &sql) {
            cx.push(syn::Error::new(
                sql_span.unwrap_or_else(proc_macro2::Span::call_site),
                "a projection keeps its read model either as documents or in SQL tables of its own, not both: \
                 remove `documents` or `sql(...)`",
            ));
            return None;
        }
        Some(Self { self_ty: &item.self_ty, name, events, persist, documents, sql, applies, apply_marked, queries })
    }
}

impl<'a> ProjectionApply<'a> {
    fn lower(cx: &Ctxt, marker: &Attribute, method: &'a ImplItemFn, form: Form) -> Option<Self> {
        let sig = &method.sig;
        let mut from = None;
        let (target, key) = apply_arguments(cx, marker).ok()?;
        let unit = match target {
            None => None,
            Some(path) if naming::is_variant_path(&path) => Some(path),
            // #[apply(OrderEvent)]: the enum to take the struct from
            Some(path) if path.segments.len() == 1 => {
                from = Some(path);
                None
            }
            Some(path) => {
                cx.error_on(
                    path,
                    "`#[apply(...)]` names a unit variant of an event enum, e.g. `#[apply(OrderEvent::Cancelled)]`, \
                     or the enum to take an event struct from, e.g. `#[apply(OrderEvent)]`",
                );
                return None;
            }
        };
        let params: Vec<_> = if form == Form::Sql {
            sql_apply_params(cx, method)?
        } else {
            check_plain(cx, method, "an `#[apply]` method")?;
            check_receiver(
                cx,
                sig,
                true,
                "an `#[apply]` method of a projection takes `&mut self`: it updates the read model",
            )?;
            sig.inputs.iter().filter_map(typed_param).collect()
        };
        let recorded = match params.as_slice() {
            [Type::Reference(reference)] if reference.mutability.is_none() => recorded_payload(&reference.elem),
            _ => None,
        };
        let event = match (unit, recorded) {
            (None, Some(payload)) => Applied::Struct(payload.clone()),
            (Some(path), Some(Type::Tuple(unit))) if unit.elems.is_empty() => Applied::Unit(path),
            (Some(_), _) => {
                cx.error_on(
                    &sig.inputs,
                    "a unit event carries no data, only its envelope: a projection's `#[apply(Enum::Variant)]` \
                     method takes `&mut self, _: &Recorded<()>`",
                );
                return None;
            }
            (None, None) => {
                match params.as_slice() {
                    [Type::Reference(reference)] if reference.mutability.is_none() => {
                        let event = &reference.elem;
                        cx.error_on(
                            reference,
                            format_args!(
                                "a projection's `#[apply]` method takes the event with its envelope: write \
                                 `&Recorded<{}>` (the event itself is what an aggregate's `#[apply]` takes)",
                                quote::quote!(#event)
                            ),
                        );
                    }
                    _ => cx.error_on(
                        &sig.inputs,
                        "an `#[apply]` method of a projection takes `&mut self` and the recorded event: \
                         `fn on_event(&mut self, event: &Recorded<EventStruct>)`",
                    ),
                }
                return None;
            }
        };
        let output = match &sig.output {
            ReturnType::Type(_, ty) => Some(&**ty),
            ReturnType::Default => None,
        };
        if let (Some(from), Applied::Unit(_)) = (&from, &event) {
            cx.error_on(from, "a unit variant is named with its enum already: `#[apply(Enum::Variant)]`");
            return None;
        }
        Some(Self { method: &sig.ident, event, key, from, output })
    }
}

/// A SQL projection's `#[apply]`: `async`, no receiver, `sql: &mut Sql<'_>` and the
/// recorded event. Returns the event's parameter.
fn sql_apply_params<'a>(cx: &Ctxt, method: &'a ImplItemFn) -> Option<Vec<&'a Type>> {
    let sig = &method.sig;
    if let Some(receiver) = sig.receiver() {
        cx.error_on(
            receiver,
            format_args!(
                "a SQL projection's `#[apply]` writes its tables through the transaction it is given, not `self`: \
                 `{SQL_APPLY}`"
            ),
        );
        return None;
    }
    if sig.asyncness.is_none() {
        cx.error_on(
            sig.fn_token,
            format_args!("a SQL projection's `#[apply]` is `async`: it writes to a database. `{SQL_APPLY}`"),
        );
        return None;
    }
    if !sig.generics.params.is_empty() {
        cx.error_on(&sig.generics, "an `#[apply]` method cannot be generic");
        return None;
    }
    let params: Vec<_> = sig.inputs.iter().filter_map(typed_param).collect();
    let [sql, event] = params.as_slice() else {
        cx.error_on(
            &sig.inputs,
            format_args!("a SQL projection's `#[apply]` takes the transaction and the recorded event: `{SQL_APPLY}`"),
        );
        return None;
    };
    if !is_sql(sql) {
        cx.error_on(
            sql,
            "the first parameter of a SQL projection's `#[apply]` is the read-model transaction: `sql: &mut Sql<'_>`",
        );
        return None;
    }
    if matches!(sig.output, ReturnType::Default) {
        cx.error_on(
            &sig.ident,
            "a SQL projection's `#[apply]` returns `Result<(), SqlError>`: its statements can fail (return their \
             error with `?`)",
        );
        return None;
    }
    Some(vec![event])
}

/// `&mut Sql<'_>`.
pub(super) fn is_sql(ty: &Type) -> bool {
    matches!(ty, Type::Reference(reference)
        if reference.mutability.is_some() && last_segment_args(&reference.elem, "Sql").is_some())
}

/// The `T` of `Recorded<T>`.
fn recorded_payload(ty: &Type) -> Option<&Type> {
    match last_segment_args(ty, "Recorded")?.as_slice() {
        [payload] => Some(payload),
        _ => None,
    }
}

/// The user's impl block without the `#[apply]` and `#[query]` markers.
pub fn strip_markers(mut item: ItemImpl) -> ItemImpl {
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            let marked = attr::named(&method.attrs, APPLY).next().is_some()
                || attr::named(&method.attrs, QUERY).next().is_some();
            method.attrs.retain(|attr| !attr.path().is_ident(APPLY) && !attr.path().is_ident(QUERY));
            if marked {
                method.attrs.push(syn::parse_quote! {
                    #[allow(
                        clippy::unused_self,
                        clippy::needless_pass_by_value,
                        clippy::unnecessary_wraps,
                        reason = "the signature of a projection's `#[apply]` or `#[query]` method is fixed by `#[projection]`"
                    )]
                });
            }
        }
    }
    item
}

/// The arguments of a projection's `#[apply(...)]`: an enum or a unit variant, and `key =
/// expression` for a document projection, in any order.
fn apply_arguments(cx: &Ctxt, marker: &Attribute) -> Result<(Option<Path>, Option<syn::Expr>), ()> {
    enum Argument {
        Target(Path),
        Key(syn::Expr),
    }
    impl syn::parse::Parse for Argument {
        fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
            if input.peek(syn::Ident) && input.peek2(syn::Token![=]) {
                let name: syn::Ident = input.parse()?;
                if name != KEY {
                    return Err(syn::Error::new(name.span(), "unknown key in `#[apply(...)]`; expected `key = ...`"));
                }
                input.parse::<syn::Token![=]>()?;
                return Ok(Argument::Key(input.parse()?));
            }
            Ok(Argument::Target(input.parse()?))
        }
    }
    match &marker.meta {
        Meta::Path(_) => Ok((None, None)),
        Meta::NameValue(_) => {
            cx.error_on(marker, "write `#[apply]`, or `#[apply(YourEvent::UnitVariant)]` for a unit variant");
            Err(())
        }
        Meta::List(_) => {
            let arguments = marker
                .parse_args_with(syn::punctuated::Punctuated::<Argument, syn::Token![,]>::parse_terminated)
                .map_err(|error| cx.push(error))?;
            let (mut target, mut key) = (None, None);
            for argument in arguments {
                match argument {
                    Argument::Target(path) if target.is_none() => target = Some(path),
                    Argument::Key(expression) if key.is_none() => key = Some(expression),
                    Argument::Target(path) => cx.error_on(path, "`#[apply(...)]` names one enum or unit variant"),
                    Argument::Key(expression) => cx.error_on(expression, "`key` is given twice"),
                }
            }
            Ok((target, key))
        }
    }
}
