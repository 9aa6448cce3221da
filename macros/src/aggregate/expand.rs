//! Code generation for `#[aggregate]`. Reports no user errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{AggregateImpl, ApplyHandler, CommandHandler, EventRef, Output};
use crate::naming::located;

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
            fn apply(&mut self, _: &Self::Event) {}
        }
    }
}

fn aggregate_impl(model: &AggregateImpl<'_>) -> TokenStream {
    let (self_ty, event, error, name) = (model.self_ty, &model.event, &model.error, &model.name);
    // Spanned at the aggregate's type: a missing `#[apply]` is reported there, naming the event.
    let fold = quote_spanned! {located(self_ty.span())=>
        <#event as ::eventsmith::__private::Fold<#self_ty>>::fold_into(event, self)
    };
    let snapshots = model.snapshots.as_ref().map(|snapshots| {
        let (every, revision) = (&snapshots.every, snapshots.revision);
        // Spanned at `snapshot_every`: a state without `Serialize`, `Deserialize` or
        // `JsonSchema` is reported there.
        let span = located(every.span());
        let fingerprint = quote_spanned!(span=> ::eventsmith::__private::state_fingerprint::<Self>(#revision));
        let encode = quote_spanned!(span=> ::eventsmith::__private::serde_json::to_vec(self));
        let decode = quote_spanned!(span=> ::eventsmith::__private::serde_json::from_slice(state));
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
    quote! {
        #[automatically_derived]
        impl ::eventsmith::__private::Aggregate for #self_ty {
            const NAME: &'static str = #name;
            type Event = #event;
            type Error = #error;

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

            #snapshots
        }
    }
}

/// The bound that makes an `Apply` impl for a type outside the event enum an error at the
/// user's token; for a unit variant, a constant that names the variant of the enum.
fn membership_check(model: &AggregateImpl<'_>, event_ref: &EventRef) -> (TokenStream, TokenStream) {
    let event = &model.event;
    match event_ref {
        EventRef::Struct(ty) => {
            let bound = quote_spanned!(ty.span()=> #ty: ::eventsmith::__private::VariantOf<#event>);
            (quote!(where #bound), TokenStream::new())
        }
        EventRef::Unit(path) => {
            let check = quote_spanned!(path.span()=> const _: #event = #path;);
            (TokenStream::new(), check)
        }
    }
}

fn apply_impl(model: &AggregateImpl<'_>, apply: &ApplyHandler<'_>) -> TokenStream {
    let (self_ty, method) = (model.self_ty, apply.method);
    let applied = apply.event.applied_type();
    let (where_clause, unit_check) = membership_check(model, &apply.event);
    let (param, call) = match &apply.event {
        EventRef::Struct(_) => (quote!(event), quote!(#self_ty::#method(self, event))),
        EventRef::Unit(_) => (quote!(_), quote!(#self_ty::#method(self))),
    };
    quote! {
        #unit_check
        #[automatically_derived]
        impl ::eventsmith::__private::Apply<#applied> for #self_ty #where_clause {
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
    let (where_clause, unit_check) = membership_check(model, ignored);
    quote! {
        #unit_check
        #[automatically_derived]
        impl ::eventsmith::__private::Apply<#applied> for #self_ty #where_clause {
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
        quote_spanned!(located(command.span())=> ::core::clone::Clone::clone(command))
    };
    let (produced, events) = match handler.output {
        Output::One(ty) => {
            (ty, quote!(::eventsmith::__private::one(::eventsmith::__private::Produces::<#event>::produce(__output))))
        }
        Output::Option(ty) | Output::Many(ty) => (
            ty,
            quote!(::core::iter::Iterator::collect(::core::iter::Iterator::map(
                ::core::iter::IntoIterator::into_iter(__output),
                ::eventsmith::__private::Produces::<#event>::produce,
            ))),
        ),
    };
    let produces = quote_spanned!(produced.span()=> #produced: ::eventsmith::__private::Produces<#event>);
    let routed = quote_spanned!(command.span()=> #command: ::eventsmith::__private::CommandFor<#self_ty>);
    let converted_error =
        quote_spanned!(located(handler.output_ty.span())=> ::core::convert::Into::<#error>::into(__error));
    quote! {
        #[automatically_derived]
        impl ::eventsmith::__private::Handle<#command> for #self_ty
        where
            #routed,
            #produces,
        {
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
