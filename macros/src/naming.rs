//! Names that two macros must agree on.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, Path};

/// A span at `location` (a user's token, where an error in the generated code is reported)
/// that resolves names as the macro's call site does: generated code that uses a [`local`]
/// is spanned with it, so that the local and the code around it share one hygiene context.
pub fn located(location: Span) -> Span {
    Span::call_site().located_at(location)
}

/// The attributes of every generated trait impl without a where clause. An impl the compiler
/// does not recommend is left out of its "the following other types implement" lists, so an
/// error names the user's type and the trait's own message, not every other implementor.
pub fn impl_attributes() -> TokenStream {
    quote! {
        #[automatically_derived]
        #[diagnostic::do_not_recommend]
    }
}

/// The hidden module `#[derive(Event)]` puts the marker types of unit variants in. Its name
/// reads well in the one error that shows it: "cannot find type `Slamed` in module
/// `unit_variants_of_DoorEvent`".
pub fn units_module(event_enum: &Ident) -> Ident {
    Ident::new(&format!("unit_variants_of_{event_enum}"), event_enum.span())
}

/// The marker type of the unit variant `path` (`OrderEvent::Cancelled` becomes
/// `unit_variants_of_OrderEvent::Cancelled`), or `None` when `path` does not name a variant
/// of an enum.
pub fn unit_marker(path: &Path) -> Option<Path> {
    let count = path.segments.len();
    if count < 2 {
        return None;
    }
    let mut marker = path.clone();
    let enum_segment = &mut marker.segments[count - 2];
    enum_segment.ident = units_module(&enum_segment.ident);
    Some(marker)
}

/// Whether `path` reads as `Enum::Variant`: its next-to-last segment is a type name
/// (upper camel case) rather than a module.
pub fn is_variant_path(path: &Path) -> bool {
    let count = path.segments.len();
    count >= 2 && path.segments[count - 2].ident.to_string().starts_with(|c: char| c.is_ascii_uppercase())
}
