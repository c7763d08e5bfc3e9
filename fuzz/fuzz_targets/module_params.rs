//! A compose entry's module keys, as JSON, decoded into a module's typed
//! parameters (the path every `create` takes).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = chimod_sdk::decode_params::<chimaera_custom_api::CustomParams>(text);
        let _ = chimod_sdk::decode_params::<chimod_sdk::NoParams>(text);
    }
});
