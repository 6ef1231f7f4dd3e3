//! What every fuzz target asserts of a parser's answer: a value, or a 4xx that names the field to
//! blame. A panic (libFuzzer's crash) or a 5xx would be a bug.

use message_center::ApiError;

/// Panics (which libFuzzer reports as a crash, with the input) unless `result` is `Ok` or a 4xx
/// naming a field.
pub fn assert_ok_or_field_named_4xx<T>(result: &Result<T, ApiError>, input: &dyn std::fmt::Debug) {
    if let Err(error) = result {
        let status = error.kind.status();
        assert!((400..500).contains(&status), "status {status} for {input:?}: {error}");
        assert!(
            error.field.as_deref().is_some_and(|field| !field.is_empty()),
            "no field named for {input:?}: {error}"
        );
        assert!(!error.msg.is_empty(), "no message for {input:?}");
    }
}

/// `bytes` as a raw query string a client could send: printable ASCII as it is, every other
/// byte (controls, spaces, invalid UTF-8) percent-encoded, as a URI carries it.
pub fn percent_encoded(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        if byte.is_ascii_graphic() {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
