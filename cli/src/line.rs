//! One event as a line of JSON: what `export` writes, `import` reads, and `show` and `log`
//! print with `--json`.

use eventsmith::recorded::Metadata;
use eventsmith::store::{NewEvent, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::commands::Failure;

/// An event with its envelope. The payload is the stored JSON text itself, byte for byte,
/// unless it spans lines (whitespace between tokens), which a line cannot hold: then that
/// whitespace is left out.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventLine {
    /// Its position in the exported log (an import appends at the target's own positions).
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub id: Uuid,
    /// When the source committed it, RFC 3339 (an import records its own commit time).
    pub recorded_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub event_type: String,
    pub event_version: u32,
    pub payload: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl EventLine {
    pub(crate) fn of(event: StoredEvent) -> Result<Self, Failure> {
        let malformed = |reason: String| Failure::new(format!("the event at position {} has {reason}", event.position));
        let text =
            String::from_utf8(one_line(&event.payload)).map_err(|_| malformed("a payload that is not UTF-8".into()))?;
        let payload =
            RawValue::from_string(text).map_err(|error| malformed(format!("a payload that is not JSON: {error}")))?;
        Ok(EventLine {
            position: event.position,
            stream_id: event.stream_id,
            stream_version: event.stream_version,
            id: event.id,
            recorded_at: eventsmith::time::rfc3339(event.recorded_at),
            namespace: event.namespace,
            event_type: event.event_type,
            event_version: event.event_version,
            payload,
            metadata: event.metadata,
        })
    }

    /// The event to append again, with its id.
    pub(crate) fn to_new(&self) -> NewEvent {
        NewEvent {
            id: self.id,
            namespace: self.namespace.clone().map(Into::into),
            event_type: self.event_type.clone().into(),
            event_version: self.event_version,
            payload: self.payload.get().as_bytes().to_vec(),
            metadata: self.metadata.clone(),
        }
    }
}

/// JSON text without the line breaks (and other whitespace) between its tokens; the text
/// itself when it has none. Strings keep theirs (a line break in a JSON string is escaped).
fn one_line(json: &[u8]) -> Vec<u8> {
    if !json.iter().any(|&byte| byte == b'\n' || byte == b'\r') {
        return json.to_vec();
    }
    let (mut kept, mut in_string, mut escaped) = (Vec::with_capacity(json.len()), false, false);
    for &byte in json {
        if in_string {
            (in_string, escaped) = (escaped || byte != b'"', !escaped && byte == b'\\');
        } else if byte == b'"' {
            in_string = true;
        } else if byte.is_ascii_whitespace() {
            continue;
        }
        kept.push(byte);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn only_whitespace_between_tokens_is_left_out() {
        assert_eq!(one_line(br#"{"a": 1}"#), br#"{"a": 1}"#, "a payload on one line is kept as it is");
        let spread = b"{\n  \"a b\": \"x\\\" \\n y\",\r\n  \"c\": [1, 2]\n}";
        assert_eq!(one_line(spread), br#"{"a b":"x\" \n y","c":[1,2]}"#);
    }
}
