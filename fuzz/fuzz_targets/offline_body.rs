//! The forced-offline body parser (`parse_offline_request`) on arbitrary bytes as the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use message_center::http::offline_body::parse_offline_request;
use message_center_fuzz::assert_ok_or_field_named_4xx;

fuzz_target!(|data: &[u8]| {
    assert_ok_or_field_named_4xx(&parse_offline_request(data), &String::from_utf8_lossy(data));
});
