//! How stream ids and names are written into NATS: as subject tokens and key-value keys, of
//! the characters a subject allows, reversibly.

/// The longest subject token of a stream id: a NATS server takes protocol lines of 4 KB by
/// default, and a direct get names the subject inside another subject.
pub(crate) const MAX_TOKEN: usize = 1_024;

/// The stream id as a subject token: `[A-Za-z0-9_-]` kept, every other byte as `~HH`.
pub(crate) fn subject_token(stream_id: &str) -> String {
    let mut token = String::with_capacity(stream_id.len());
    for byte in stream_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            token.push(char::from(byte));
        } else {
            token.push_str(&format!("~{byte:02X}"));
        }
    }
    if token.is_empty() { "~".to_owned() } else { token }
}

/// The stream id a subject token was made from, if it is one.
pub(crate) fn stream_id_of_token(token: &str) -> Option<String> {
    if token == "~" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(token.len());
    let mut rest = token.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'~' {
            let hex = tail.get(..2)?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = &tail[2..];
        } else if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            bytes.push(byte);
            rest = tail;
        } else {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A key-value key for a name: `[A-Za-z0-9_-]` kept, every other byte as `=HH`.
pub(crate) fn kv_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            key.push(char::from(byte));
        } else {
            key.push_str(&format!("={byte:02X}"));
        }
    }
    if key.is_empty() { "=".to_owned() } else { key }
}
