//! Code generation for `#[aggregate]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{AggregateImpl, ApplyHandler, CommandHandler, EventRef, Output};
use crate::naming::{self, located};

pub fn expand(model: &AggregateImpl<'_>) -> TokenStream {
    let aggregate = aggregate_impl(model);
    let applies = model.applies.iter().map(|apply| apply_impl(model, apply));
    let ignores = model.ignores.iter().map(|ignored| ignore_impl(model, ignored));
    let handles = model.commands.iter().map(|handler| handle_impl(model, handler));
    quote! {
        const _: () = {
            #aggregate
            #(#applies)*
            #(#ignores)*
            #(#handles)*
        };
    }
}

/// What is emitted for an aggregate with errors: an `Aggregate` impl with no behaviour, so
/// that the errors reported are the user's mistakes and not their consequences elsewhere.
pub fn fallback(self_ty: &syn::Type, types: Option<(&syn::Path, &syn::Type)>) -> TokenStream {
    let (event, error) = match types {
        Some((event, error)) => (quote!(#event), quote!(#error)),
        None => (quote!(::eventsmith::__private::Unknown), quote!(::eventsmith::__private::Unknown)),
    };
    quote! {
        impl ::eventsmith::__private::Aggregate for #self_ty {
            const NAME: &'static str = "";
            type Event = #event;
            type Error = #error;
            fn initial() -> Self {
                ::core::unreachable!("an aggregate with errors is never compiled")
            }
            fn apply(&mut self, _: &Self::Event) {}
        }
    }
}

fn aggregate_impl(model: &AggregateImpl<'_>) -> TokenStream {
    let (self_ty, event, error, name) = (model.self_ty, &model.event, &model.error, &model.name);
    // Spanned at the event enum in `#[aggregate(event = ...)]`: a missing `#[apply]` is
    // reported there, naming the event.
    let fold = quote_spanned! {located(event.span())=>
        <#event as ::eventsmith::__private::AppliedBy<#self_ty>>::apply_to(event, self)
    };
    // Spanned at the aggregate's type: a state without `Default` is one error there.
    let initial =
        quote_spanned!(located(self_ty.span())=> <Self as ::eventsmith::__private::InitialState>::initial_state());
    let snapshots = model.snapshots.as_ref().map(|snapshots| {
        let (every, revision) = (&snapshots.every, snapshots.revision);
        // Spanned at `snapshot_every`: a state without `Serialize`, `Deserialize` or
        // `JsonSchema` is one error there.
        let span = located(every.span());
        let state = quote_spanned!(span=> <Self as ::eventsmith::__private::SnapshotState>);
        let fingerprint = quote!(#state::state_fingerprint(#revision));
        let encode = quote!(#state::encode_state(self));
        let decode = quote!(#state::decode_state(state));
        quote! {
            const SNAPSHOT_EVERY: u64 = #every;

            fn snapshot_fingerprint() -> ::eventsmith::__private::String {
                static FINGERPRINT: ::eventsmith::__private::OnceLock<::eventsmith::__private::String> =
                    ::eventsmith::__private::OnceLock::new();
                ::core::clone::Clone::clone(FINGERPRINT.get_or_init(|| #fingerprint))
            }

            fn encode_snapshot(
                &self,
            ) -> ::core::option::Option<
                ::core::result::Result<::eventsmith::__private::Vec<u8>, ::eventsmith::__private::serde_json::Error>,
            > {
                ::core::option::Option::Some(#encode)
            }

            fn decode_snapshot(
                state: &[u8],
            ) -> ::core::option::Option<::core::result::Result<Self, ::eventsmith::__private::serde_json::Error>> {
                ::core::option::Option::Some(#decode)
            }
        }
    });
    let commands = model.commands.iter().map(|handler| {
        let command = handler.command;
        let (Output::One(produced) | Output::Option(produced) | Output::Many(produced)) = handler.output;
        // Read through the same traits, at the same tokens, as the handler's checks: a
        // mistake there is reported once.
        let expect =
            quote_spanned!(command.span()=> <#command as ::eventsmith::__private::CommandFor<#self_ty>>::EXPECT);
        let produces =
            quote_spanned!(produced.span()=> <#produced as ::eventsmith::__private::Produces<#event>>::PRODUCED);
        quote!(::eventsmith::__private::CommandEntry::of::<#command>(#expect.name(), #produces))
    });
    let attributes = naming::impl_attributes();
    quote! {
        #attributes
        impl ::eventsmith::__private::Aggregate for #self_ty {
            const NAME: &'static str = #name;
            type Event = #event;
            type Error = #error;

            #[inline]
            fn initial() -> Self {
                #initial
            }

            #[inline]
            fn apply(&mut self, event: &Self::Event) {
                #fold
            }

            #[inline]
            fn cached_copy(&self) -> ::core::option::Option<Self> {
                #[allow(unused_imports)]
                use ::eventsmith::__private::{CloneIfClone as _, NotClone as _};
                (&&::eventsmith::__private::MaybeClone(self)).maybe_clone()
            }

            fn commands() -> ::eventsmith::__private::Vec<::eventsmith::__private::CommandEntry> {
                ::eventsmith::__private::Vec::from([#(#commands),*])
            }

            #snapshots
        }
    }
}

/// The check that the applied type is a variant of the aggregate's event enum, reported once
/// at the user's token: for a struct, the struct; for a unit variant, `Enum::Variant`.
fn membership_check(model: &AggregateImpl<'_>, event_ref: &EventRef) -> TokenStream {
    let (event, applied) = (&model.event, event_ref.applied_type());
    let span = match event_ref {
        EventRef::Struct(ty) => ty.span(),
        EventRef::Unit(path) => path.span(),
    };
    quote_spanned!(span=> const _: usize = <#applied as ::eventsmith::__private::VariantOf<#event>>::INDEX;)
}

fn apply_impl(model: &AggregateImpl<'_>, apply: &ApplyHandler<'_>) -> TokenStream {
    let (self_ty, method) = (model.self_ty, apply.method);
    let applied = apply.event.applied_type();
    let check = membership_check(model, &apply.event);
    let (param, call) = match &apply.event {
        EventRef::Struct(_) => (quote!(event), quote!(#self_ty::#method(self, event))),
        EventRef::Unit(_) => (quote!(_), quote!(#self_ty::#method(self))),
    };
    let attributes = naming::impl_attributes();
    quote! {
        #check
        #attributes
        impl ::eventsmith::__private::Apply<#applied> for #self_ty {
            #[inline]
            fn apply(&mut self, #param: &#applied) {
                #call
            }
        }
    }
}

fn ignore_impl(model: &AggregateImpl<'_>, ignored: &EventRef) -> TokenStream {
    let self_ty = model.self_ty;
    let applied = ignored.applied_type();
    let check = membership_check(model, ignored);
    let attributes = naming::impl_attributes();
    quote! {
        #check
        #attributes
        impl ::eventsmith::__private::Apply<#applied> for #self_ty {
            #[inline]
            fn apply(&mut self, _: &#applied) {}
        }
    }
}

fn handle_impl(model: &AggregateImpl<'_>, handler: &CommandHandler<'_>) -> TokenStream {
    let (self_ty, event, error) = (model.self_ty, &model.event, &model.error);
    let (method, command) = (handler.method, handler.command);
    let argument = if handler.by_ref {
        quote!(command)
    } else {
        quote_spanned!(located(command.span())=> <#command as ::eventsmith::__private::ClonedCommand>::cloned_command(command))
    };
    // Each check is spanned at the user's token it is about, and written as a path to an
    // item of the trait, so that a failure is one error there with the trait's own message.
    let (Output::One(produced) | Output::Option(produced) | Output::Many(produced)) = handler.output;
    let produce = quote_spanned!(produced.span()=> <#produced as ::eventsmith::__private::Produces<#event>>::produce);
    let events = match handler.output {
        Output::One(_) => quote!(::eventsmith::__private::one(#produce(__output))),
        Output::Option(_) | Output::Many(_) => quote!(::core::iter::Iterator::collect(::core::iter::Iterator::map(
            ::core::iter::IntoIterator::into_iter(__output),
            #produce,
        ))),
    };
    let routed = quote_spanned!(command.span()=> const _: () = <#command as ::eventsmith::__private::CommandFor<#self_ty>>::ROUTED;);
    let converted_error = quote_spanned! {located(handler.error_ty.span())=>
        <_ as ::eventsmith::__private::HandlerError<#error>>::into_aggregate_error(__error)
    };
    let attributes = naming::impl_attributes();
    quote! {
        #routed
        #attributes
        impl ::eventsmith::__private::Handle<#command> for #self_ty {
            #[inline]
            fn handle(
                &self,
                command: &#command,
            ) -> ::core::result::Result<::eventsmith::__private::Vec<#event>, #error> {
                match #self_ty::#method(self, #argument) {
                    ::core::result::Result::Ok(__output) => ::core::result::Result::Ok(#events),
                    ::core::result::Result::Err(__error) => ::core::result::Result::Err(#converted_error),
                }
            }
        }
    }
}
