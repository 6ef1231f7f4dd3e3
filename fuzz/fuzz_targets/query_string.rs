//! The list/search query parser (`parse_session_query`) on arbitrary bytes as the raw query
//! string: as text when they are UTF-8 (lossily otherwise), and percent-encoded, so that invalid
//! UTF-8 and control bytes reach it as `%FF` does from a client. Both endpoints' modes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use message_center::http::query::{parse_session_query, ListMode};
use message_center_fuzz::{assert_ok_or_field_named_4xx, percent_encoded};

fuzz_target!(|data: &[u8]| {
    let as_text = String::from_utf8_lossy(data);
    let encoded = percent_encoded(data);
    for raw in [as_text.as_ref(), encoded.as_str()] {
        for mode in [ListMode::List, ListMode::Search] {
            assert_ok_or_field_named_4xx(&parse_session_query(raw, mode), &raw);
        }
    }
});
