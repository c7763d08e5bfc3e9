//! Whole configuration files: any text either parses or gives an error,
//! never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = chimaera::config::parse_config(text, "fuzz.yaml");
    }
});
