//! Encoding event payloads as JSON objects and decoding them straight into typed variants,
//! through the upcasters of older versions; the errors of both. The functions are what
//! `#[derive(Event)]` generates calls to.

use serde::Deserialize;

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

#[doc(hidden)]
/// Encodes an event payload, checking that it is a JSON object.
///
/// # Errors
/// A failing `Serialize` impl, or a payload that is not a JSON object.
pub fn encode_payload<T: serde::Serialize + ?Sized>(
    event_type: &'static str,
    payload: &T,
) -> Result<Vec<u8>, EncodeError> {
    let bytes = serde_json::to_vec(payload).map_err(|source| EncodeError::Serialize { event_type, source })?;
    if bytes.first() == Some(&b'{') {
        Ok(bytes)
    } else {
        let found = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
        Err(EncodeError::NotAnObject { event_type, found })
    }
}

#[doc(hidden)]
/// The payload of a unit variant.
#[must_use]
pub fn unit_payload() -> Vec<u8> {
    b"{}".to_vec()
}

#[doc(hidden)]
/// Decodes an event payload straight into its typed variant.
///
/// # Errors
/// [`DecodeError::Payload`] naming the type and version.
pub fn decode_payload<'de, T: Deserialize<'de>>(
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

#[doc(hidden)]
/// One upcasting step through `Into`, from version `FROM` to version `TO`.
#[inline]
pub fn upcast_into<From: UpcastStep<To, FROM, TO>, To, const FROM: u32, const TO: u32>(event: From) -> To {
    event.step()
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

impl<From: Into<To>, To, const FROM: u32, const TO: u32> UpcastStep<To, FROM, TO> for From {
    #[inline]
    fn step(self) -> To {
        self.into()
    }
}

#[doc(hidden)]
/// One upcasting step through a named function that may fail.
///
/// # Errors
/// [`DecodeError::Upcast`] naming the type and the step.
pub fn upcast_via<To, E: std::fmt::Display>(
    event_type: &str,
    from: u32,
    to: u32,
    result: Result<To, E>,
) -> Result<To, DecodeError> {
    result.map_err(|error| DecodeError::Upcast {
        event_type: event_type.to_owned(),
        from,
        to,
        message: error.to_string(),
    })
}
