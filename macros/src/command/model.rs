//! The command struct as eventsmith sees it.

use syn::{Data, DeriveInput, Ident, Member, Path, Type};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::symbol::{AGGREGATE, COMMAND, EXPECT, ID};

pub struct CommandStruct<'a> {
    pub ident: &'a Ident,
    pub aggregate: Path,
    pub expect: Expect,
    /// Every field marked `#[command(id)]`; exactly one is valid.
    pub ids: Vec<IdField<'a>>,
}

pub struct IdField<'a> {
    pub member: Member,
    pub ty: &'a Type,
    pub field: &'a syn::Field,
}

#[derive(Clone, Copy)]
pub enum Expect {
    Any,
    New,
    Existing,
}

impl<'a> CommandStruct<'a> {
    /// Lowers a command struct; an enum is an envelope, lowered by `crate::envelope`.
    pub fn lower(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        if !input.generics.params.is_empty() {
            cx.error_on(&input.generics, "a command cannot be generic: it is routed by its concrete type");
            return None;
        }
        let fields = match &input.data {
            Data::Struct(data) => &data.fields,
            Data::Enum(_) => return None,
            Data::Union(data) => {
                cx.error_on(
                    data.union_token,
                    "`#[derive(Command)]` goes on a struct or an enum of commands, not a union",
                );
                return None;
            }
        };
        let mut aggregate = Once::new(COMMAND, AGGREGATE);
        let mut expect = Once::new(COMMAND, EXPECT);
        attr::parse_each(cx, &input.attrs, COMMAND, |meta| {
            // #[command(aggregate = Order)]
            if meta.path.is_ident(AGGREGATE) {
                let path: Path = meta.value()?.parse()?;
                aggregate.set(cx, meta, path)
            // #[command(expect = new)] or #[command(expect = existing)]
            } else if meta.path.is_ident(EXPECT) {
                let value: Ident = meta.value()?.parse()?;
                let parsed = match value.to_string().as_str() {
                    "new" => Expect::New,
                    "existing" => Expect::Existing,
                    "any" => Expect::Any,
                    _ => {
                        return Err(syn::Error::new(
                            value.span(),
                            "`expect` is `new` (the command creates the aggregate), `existing` (it needs one) or `any`",
                        ));
                    }
                };
                expect.set(cx, meta, parsed)
            } else {
                Err(attr::unknown_key(meta, COMMAND, &[AGGREGATE, EXPECT]))
            }
        });
        let mut ids = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            attr::parse_each(cx, &field.attrs, COMMAND, |meta| {
                // #[command(id)]
                if meta.path.is_ident(ID) {
                    attr::flag(cx, meta, COMMAND)?;
                    let member = field.ident.clone().map_or_else(|| Member::from(index), Member::Named);
                    ids.push(IdField { member, ty: &field.ty, field });
                    Ok(())
                } else {
                    Err(attr::unknown_key(meta, COMMAND, &[ID]))
                }
            });
        }
        let Some(aggregate) = aggregate.get() else {
            cx.error_on(
                &input.ident,
                format_args!(
                    "command `{}` does not say which aggregate handles it; add `#[command(aggregate = YourAggregate)]`",
                    input.ident
                ),
            );
            return None;
        };
        Some(Self { ident: &input.ident, aggregate, expect: expect.get().unwrap_or(Expect::Any), ids })
    }
}
