//! Frames from the network: checked and decoded, with and without the
//! cluster key; anything fails cleanly.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = chimaera::net::Frame::decode(data, 3);
    let sealer = chimaera::net::Sealer::none();
    if let Some(body) = sealer.open(data) {
        let _ = chimaera::net::Frame::decode(body, 1);
    }
});
