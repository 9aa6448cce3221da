//! Encoding event payloads as JSON objects and decoding them straight into typed variants,
//! through the upcasters of older versions; the errors of both. The functions are what
//! `#[derive(Event)]` generates calls to.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A stored payload that could not be turned back into a typed event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No variant is stored under this type name.
    #[error("unknown type `{event_type}`; known types: {known}")]
    UnknownType {
        /// The stored type name.
        event_type: String,
        /// The type names the code knows, comma separated.
        known: String,
    },
    /// The type is known, but not at this version.
    #[error("`{event_type}` has no version {version}; the newest known version is {newest}")]
    UnknownVersion {
        /// The stored type name.
        event_type: String,
        /// The stored version.
        version: u32,
        /// The version the code writes.
        newest: u32,
    },
    /// The payload is not valid JSON for the type.
    #[error("payload of `{event_type}` v{version} does not decode: {source}")]
    Payload {
        /// The stored type name.
        event_type: String,
        /// The stored version.
        version: u32,
        /// What serde said.
        source: serde_json::Error,
    },
    /// An upcaster of an old version failed.
    #[error("upcasting `{event_type}` from version {from} to {to} failed: {message}")]
    Upcast {
        /// The stored type name.
        event_type: String,
        /// The version the step starts from.
        from: u32,
        /// The version the step converts into.
        to: u32,
        /// The upcaster's error.
        message: String,
    },
    /// A `{"type": ..., "data": ...}` envelope that is malformed.
    #[error("malformed envelope, expected {{\"type\": ..., \"data\": {{...}}}}: {source}")]
    Envelope {
        /// What serde said.
        source: serde_json::Error,
    },
}

/// An event payload that could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload's `Serialize` impl failed.
    #[error("cannot encode `{event_type}`: {source}")]
    Serialize {
        /// The event's type name.
        event_type: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The payload serialized to something other than a JSON object.
    #[error("`{event_type}` must serialize to a JSON object, but produced `{found}`")]
    NotAnObject {
        /// The event's type name.
        event_type: &'static str,
        /// The start of what was produced.
        found: String,
    },
}

/// What a type needs to be an event payload: it is stored as a JSON object, so it must
/// implement `Serialize` and `Deserialize`. Implemented for every such type; generated code
/// encodes and decodes payloads through it, so a payload without them is one error at the
/// variant that names it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event payload: it must implement both `Serialize` and `Deserialize`",
    label = "stored as JSON",
    note = "derive the one `{Self}` lacks, or both: `#[derive(Serialize, Deserialize)]` (both are in `eventsmith::prelude`)"
)]
pub trait Payload: Sized {
    /// Encodes the payload, checking that it is a JSON object.
    ///
    /// # Errors
    /// A failing `Serialize` impl, or a payload that is not a JSON object.
    fn encode_payload(&self, event_type: &'static str) -> Result<Vec<u8>, EncodeError>;

    /// Decodes a stored payload of type `event_type` at `version`.
    ///
    /// # Errors
    /// [`DecodeError::Payload`] naming the type and version.
    fn decode_payload(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError>;
}

#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + DeserializeOwned> Payload for T {
    fn encode_payload(&self, event_type: &'static str) -> Result<Vec<u8>, EncodeError> {
        let bytes = serde_json::to_vec(self).map_err(|source| EncodeError::Serialize { event_type, source })?;
        if bytes.first() == Some(&b'{') {
            Ok(bytes)
        } else {
            let found = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
            Err(EncodeError::NotAnObject { event_type, found })
        }
    }

    #[inline]
    fn decode_payload(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        decode_json(event_type, version, payload)
    }
}

/// What the type named in `upcast(from = N, with = T)` needs: stored events of version `N`
/// are decoded into it, so it must implement `Deserialize`. Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot read an older version of a stored event: it does not implement `Deserialize`",
    label = "stored events of the older version are decoded into it",
    note = "add `#[derive(Deserialize)]` to `{Self}`"
)]
pub trait OlderVersion: Sized {
    /// Decodes a stored payload of type `event_type` at the older `version`.
    ///
    /// # Errors
    /// [`DecodeError::Payload`] naming the type and version.
    fn decode_older(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError>;
}

#[diagnostic::do_not_recommend]
impl<T: DeserializeOwned> OlderVersion for T {
    #[inline]
    fn decode_older(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        decode_json(event_type, version, payload)
    }
}

/// Decodes JSON of type `event_type` at `version` (an event payload or a message's data).
pub(crate) fn decode_json<'de, T: Deserialize<'de>>(
    event_type: &str,
    version: u32,
    payload: &'de [u8],
) -> Result<T, DecodeError> {
    serde_json::from_slice(payload).map_err(|source| DecodeError::Payload {
        event_type: event_type.to_owned(),
        version,
        source,
    })
}

#[doc(hidden)]
/// The payload of a unit variant.
#[must_use]
pub fn unit_payload() -> Vec<u8> {
    b"{}".to_vec()
}

#[doc(hidden)]
/// Checks that a unit variant's payload is an object (its fields, if any, are ignored).
///
/// # Errors
/// [`DecodeError::Payload`] when the payload is not a JSON object.
pub fn decode_unit(event_type: &str, version: u32, payload: &[u8]) -> Result<(), DecodeError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .and_then(|_| {
            if payload.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{') {
                Ok(())
            } else {
                Err(<serde_json::Error as serde::de::Error>::custom("expected a JSON object"))
            }
        })
        .map_err(|source| DecodeError::Payload { event_type: event_type.to_owned(), version, source })
}

#[doc(hidden)]
/// The error for a stored type name that no variant has.
#[must_use]
pub fn unknown_type(event_type: &str, known: &[&str]) -> DecodeError {
    DecodeError::UnknownType { event_type: event_type.to_owned(), known: known.join(", ") }
}

#[doc(hidden)]
/// The error for a known type at a version the code does not read.
#[must_use]
pub fn unknown_version(event_type: &str, version: u32, newest: u32) -> DecodeError {
    DecodeError::UnknownVersion { event_type: event_type.to_owned(), version, newest }
}

/// Converts an event from version `FROM` into version `TO`.
#[diagnostic::on_unimplemented(
    message = "the upcaster from version {FROM} does not produce version {TO}: `{Self}` does not convert into `{To}`",
    label = "version {FROM} decodes into this type",
    note = "implement `From<{Self}> for {To}`, or name a function with `upcast(from = {FROM}, with = {Self}, via = your_function)`"
)]
pub trait UpcastStep<To, const FROM: u32, const TO: u32> {
    /// The step.
    fn step(self) -> To;
}

#[diagnostic::do_not_recommend]
impl<From: Into<To>, To, const FROM: u32, const TO: u32> UpcastStep<To, FROM, TO> for From {
    #[inline]
    fn step(self) -> To {
        self.into()
    }
}

/// A function named in `upcast(from = FROM, with = From, via = f)`: a
/// `fn(From) -> Result<To, E>` whose error `E: Display` is shown when a stored event cannot
/// be upcast. Implemented for every such function.
#[diagnostic::on_unimplemented(
    message = "the upcaster from version {FROM} cannot be `{Self}`",
    label = "must be a `fn({From}) -> Result<{To}, E>` where `E: Display`",
    note = "`via` names a function from the type in `with` to version {TO}'s type, which may fail with an error that is shown when a stored event cannot be upcast"
)]
pub trait UpcastVia<From, To, const FROM: u32, const TO: u32> {
    /// Upcasts `event`, naming `event_type` and the step in the error.
    ///
    /// # Errors
    /// [`DecodeError::Upcast`] with the function's error.
    fn upcast(self, event_type: &str, event: From) -> Result<To, DecodeError>;
}

#[diagnostic::do_not_recommend]
impl<F, From, To, E, const FROM: u32, const TO: u32> UpcastVia<From, To, FROM, TO> for F
where
    F: FnOnce(From) -> Result<To, E>,
    E: std::fmt::Display,
{
    #[inline]
    fn upcast(self, event_type: &str, event: From) -> Result<To, DecodeError> {
        self(event).map_err(|error| DecodeError::Upcast {
            event_type: event_type.to_owned(),
            from: FROM,
            to: TO,
            message: error.to_string(),
        })
    }
}
