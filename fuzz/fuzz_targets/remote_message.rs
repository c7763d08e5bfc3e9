//! Bytes from a remote client's connection, as the runtime reads them:
//! messages cut out of the stream, then their headers decoded; anything
//! fails cleanly, and nothing is allocated past the limits.
#![no_main]

use chimaera_protocol::remote::message::{ToClient, ToRuntime, decode_header};
use chimaera_protocol::remote::reader::MessageReader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut stream = data;
    let mut reader = MessageReader::default();
    while let Ok(Some(message)) = reader.read_from(&mut stream) {
        let _ = decode_header::<ToRuntime>(&message.header);
        let _ = decode_header::<ToClient>(&message.header);
    }
});
