//! Collects every user error of one macro call, so that all are reported at once.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Errors found so far. Must be finished with [`Ctxt::check`]; dropping it unchecked is a
/// bug in the macro (a user error would be lost), and panics.
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub fn new() -> Self {
        Self { errors: RefCell::new(Some(Vec::new())) }
    }

    /// Reports `message` on the tokens of `node`.
    pub fn error_on(&self, node: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(node.into_token_stream(), message));
    }

    /// Reports a parse error.
    pub fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().as_mut().expect("Ctxt used after check").push(error);
    }

    /// How many errors have been reported so far.
    pub fn error_count(&self) -> usize {
        self.errors.borrow().as_ref().map_or(0, Vec::len)
    }

    /// Ends a macro call: what `expand` generates when there were no errors; otherwise the
    /// errors, with what `fallback` generates: the item's impls without behaviour, so that
    /// its uses report nothing more (one mistake, one error).
    pub fn finish(
        self,
        expand: impl FnOnce() -> proc_macro2::TokenStream,
        fallback: impl FnOnce() -> proc_macro2::TokenStream,
    ) -> proc_macro2::TokenStream {
        match self.check() {
            Ok(()) => expand(),
            Err(errors) => {
                let (errors, fallback) = (errors.into_compile_error(), fallback());
                quote::quote!(#errors #fallback)
            }
        }
    }

    /// Ends collection: every error combined into one, or `Ok` if there were none.
    pub fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("eventsmith-macros: errors were collected but never checked");
        }
    }
}
