//! The command struct or command enum as eventsmith sees it.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Member, Path, Type};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;
use crate::symbol::{AGGREGATE, COMMAND, EXPECT, ID, NAME};

pub enum CommandItem<'a> {
    Struct(CommandStruct<'a>),
    Enum(CommandEnum<'a>),
}

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

pub struct CommandEnum<'a> {
    pub ident: &'a Ident,
    pub variants: Vec<CommandVariant<'a>>,
}

pub struct CommandVariant<'a> {
    pub ident: &'a Ident,
    pub command: &'a Type,
    pub name: String,
    pub name_lit: Option<LitStr>,
}

impl<'a> CommandItem<'a> {
    pub fn lower(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        if !input.generics.params.is_empty() {
            cx.error_on(&input.generics, "a command cannot be generic: it is routed by its concrete type");
            return None;
        }
        match &input.data {
            Data::Struct(data) => CommandStruct::lower(cx, input, &data.fields).map(Self::Struct),
            Data::Enum(data) => Some(Self::Enum(CommandEnum::lower(cx, input, data))),
            Data::Union(data) => {
                cx.error_on(
                    data.union_token,
                    "`#[derive(Command)]` goes on a struct or an enum of commands, not a union",
                );
                None
            }
        }
    }
}

impl<'a> CommandStruct<'a> {
    fn lower(cx: &Ctxt, input: &'a DeriveInput, fields: &'a Fields) -> Option<Self> {
        let mut aggregate = Once::new(COMMAND, AGGREGATE);
        let mut expect = Once::new(COMMAND, EXPECT);
        attr::parse_each(cx, &input.attrs, COMMAND, |meta| {
            // #[command(aggregate = Order)]
            if meta.path.is_ident(AGGREGATE) {
                let path: Path = meta.value()?.parse()?;
                aggregate.set(&meta, path)
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
                expect.set(&meta, parsed)
            } else {
                Err(attr::unknown_key(&meta, COMMAND, &[AGGREGATE, EXPECT]))
            }
        });
        let mut ids = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            attr::parse_each(cx, &field.attrs, COMMAND, |meta| {
                // #[command(id)]
                if meta.path.is_ident(ID) {
                    let member = field.ident.clone().map_or_else(|| Member::from(index), Member::Named);
                    ids.push(IdField { member, ty: &field.ty, field });
                    Ok(())
                } else {
                    Err(attr::unknown_key(&meta, COMMAND, &[ID]))
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

impl<'a> CommandEnum<'a> {
    fn lower(cx: &Ctxt, input: &'a DeriveInput, data: &'a syn::DataEnum) -> Self {
        for attr in attr::named(&input.attrs, COMMAND) {
            cx.error_on(
                attr,
                "an enum of commands is routed by its variants' command types; `#[command(...)]` goes on each command struct",
            );
        }
        let variants = data
            .variants
            .iter()
            .filter_map(|variant| {
                let command = match &variant.fields {
                    Fields::Unnamed(fields) if fields.unnamed.len() == 1 => &fields.unnamed[0].ty,
                    _ => {
                        cx.error_on(
                            variant,
                            format_args!(
                                "each variant of a command enum wraps one command struct, e.g. `{0}({0})`",
                                variant.ident
                            ),
                        );
                        return None;
                    }
                };
                let mut name = Once::new(COMMAND, NAME);
                attr::parse_each(cx, &variant.attrs, COMMAND, |meta| {
                    // #[command(name = "CreateOrder")]
                    if meta.path.is_ident(NAME) {
                        let lit = attr::string_value(&meta)?;
                        name.set(&meta, lit)
                    } else {
                        Err(attr::unknown_key(&meta, COMMAND, &[NAME]))
                    }
                });
                let name_lit = name.get();
                Some(CommandVariant {
                    ident: &variant.ident,
                    command,
                    name: name_lit.as_ref().map_or_else(|| variant.ident.to_string(), LitStr::value),
                    name_lit,
                })
            })
            .collect();
        Self { ident: &input.ident, variants }
    }
}
