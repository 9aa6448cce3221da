//! A projection's `#[query]` methods as eventsmith reads them: on the read model in memory
//! (`&self`), or on a stored projection's database (documents or SQL tables).

use syn::{Attribute, ImplItemFn, Meta, ReturnType, Type};

use super::model::{Form, QueryHandler, is_sql};
use crate::ctxt::Ctxt;
use crate::sig::{borrows, by_value_or_ref, check_plain, check_receiver, last_segment_args, typed_param};

/// What a `#[query]` method has to say about a document projection's `#[query]` signature.
const DOCUMENT_QUERY: &str =
    "async fn get(documents: &Documents<Self>, query: GetOrder) -> Result<YourAnswer, DocumentError>";

/// What a `#[query]` method has to say about a SQL projection's `#[query]` signature.
const SQL_QUERY: &str = "async fn get(sql: &mut Sql<'_>, query: GetOrder) -> Result<YourAnswer, SqlError>";

impl<'a> QueryHandler<'a> {
    pub(super) fn lower(cx: &Ctxt, marker: &Attribute, method: &'a ImplItemFn) -> Option<Self> {
        let sig = &method.sig;
        check_marker(cx, marker);
        check_plain(cx, method, "a `#[query]` method")?;
        check_receiver(
            cx,
            sig,
            false,
            "a `#[query]` method takes `&self`: it reads the read model without changing it",
        )?;
        let params: Vec<_> = sig.inputs.iter().filter_map(typed_param).collect();
        let [query] = params.as_slice() else {
            cx.error_on(
                &sig.inputs,
                "a `#[query]` method takes `&self` and the query: `fn get(&self, query: GetOrder) -> Answer`",
            );
            return None;
        };
        let (query, by_ref) = by_value_or_ref(cx, query, "query")?;
        let ReturnType::Type(_, output) = &sig.output else {
            cx.error_on(
                &sig.ident,
                format_args!("`{}` answers nothing: a `#[query]` method returns its answer, e.g. `-> u32`", sig.ident),
            );
            return None;
        };
        if borrows(output) {
            cx.error_on(
                output,
                "a query's answer must not borrow from the read model, which is locked only while the query runs; \
                 return owned data (clone what you return)",
            );
            return None;
        }
        Some(Self { method: &sig.ident, query, by_ref, output, answer: None })
    }

    /// A stored projection's `#[query]`: `async fn`, no receiver, what it reads (a document
    /// projection's `&Documents<Self>`, a SQL projection's `&mut Sql<'_>`) and the query.
    pub(super) fn lower_stored(cx: &Ctxt, marker: &Attribute, method: &'a ImplItemFn, form: Form) -> Option<Self> {
        let sig = &method.sig;
        check_marker(cx, marker);
        let stored = if form == Form::Sql { &SQL_STORED } else { &DOCUMENTS_STORED };
        let StoredQuery { kind, signature, .. } = stored;
        if let Some(receiver) = sig.receiver() {
            cx.error_on(receiver, format_args!("{kind} `#[query]` {}: `{signature}`", stored.not_self));
            return None;
        }
        if sig.asyncness.is_none() {
            cx.error_on(sig.fn_token, format_args!("{kind} `#[query]` is `async`: it reads a database. `{signature}`"));
            return None;
        }
        if !sig.generics.params.is_empty() {
            cx.error_on(&sig.generics, "a `#[query]` method cannot be generic");
            return None;
        }
        let params: Vec<_> = sig.inputs.iter().filter_map(typed_param).collect();
        let [source, query] = params.as_slice() else {
            cx.error_on(
                &sig.inputs,
                format_args!("{kind} `#[query]` takes {} and the query: `{signature}`", stored.takes),
            );
            return None;
        };
        if !(stored.reads)(source) {
            cx.error_on(source, format_args!("the first parameter of {kind} `#[query]` is {}", stored.first));
            return None;
        }
        let (query, by_ref) = by_value_or_ref(cx, query, "query")?;
        let error = stored.error;
        let ReturnType::Type(_, output) = &sig.output else {
            cx.error_on(
                &sig.ident,
                format_args!(
                    "`{}` answers nothing: {kind} `#[query]` returns `Result<YourAnswer, {error}>`",
                    sig.ident
                ),
            );
            return None;
        };
        let Some(&answer) = last_segment_args(output, "Result").as_deref().and_then(<[_]>::first) else {
            cx.error_on(
                output,
                format_args!(
                    "{kind} `#[query]` returns `Result<YourAnswer, {error}>`: it reads a database, which can fail \
                     (return its error with `?`)"
                ),
            );
            return None;
        };
        if borrows(answer) {
            cx.error_on(
                answer,
                "a query's answer must not borrow: it is read from the database and handed to the caller; return \
                 owned data",
            );
            return None;
        }
        Some(Self { method: &sig.ident, query, by_ref, output, answer: Some(answer) })
    }
}

/// What a stored projection's `#[query]` reads, and how its messages say so.
struct StoredQuery {
    kind: &'static str,
    signature: &'static str,
    not_self: &'static str,
    takes: &'static str,
    first: &'static str,
    reads: fn(&Type) -> bool,
    error: &'static str,
}

const DOCUMENTS_STORED: StoredQuery = StoredQuery {
    kind: "a document projection's",
    signature: DOCUMENT_QUERY,
    not_self: "reads its documents from the database, not from `self`",
    takes: "the projection's documents",
    first: "its documents: `documents: &Documents<Self>`",
    reads: is_documents,
    error: "DocumentError",
};

const SQL_STORED: StoredQuery = StoredQuery {
    kind: "a SQL projection's",
    signature: SQL_QUERY,
    not_self: "reads its tables through the connection it is given, not `self`",
    takes: "a read connection",
    first: "its read connection: `sql: &mut Sql<'_>`",
    reads: is_sql,
    error: "SqlError",
};

/// `&Documents<...>`.
fn is_documents(ty: &Type) -> bool {
    matches!(ty, Type::Reference(reference)
        if reference.mutability.is_none() && last_segment_args(&reference.elem, "Documents").is_some())
}

fn check_marker(cx: &Ctxt, marker: &Attribute) {
    if !matches!(marker.meta, Meta::Path(_)) {
        cx.error_on(marker, "`#[query]` on a method takes no arguments; the query type is the method's parameter");
    }
}
