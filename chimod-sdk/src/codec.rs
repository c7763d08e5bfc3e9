//! The one codec for task inputs and outputs, in shared memory and on the
//! network alike: `postcard`, a compact, non-self-describing serde format.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why bytes did not decode (or a value did not encode).
///
/// ```
/// let err = chimod_sdk::codec::decode::<String>(&[0xff]).unwrap_err();
/// assert!(err.to_string().starts_with("malformed task data"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed task data: {0}")]
pub struct CodecError(String);

/// Encodes a value.
///
/// ```
/// let bytes = chimod_sdk::codec::encode(&(7u32, "x")).unwrap();
/// assert_eq!(chimod_sdk::codec::decode::<(u32, String)>(&bytes).unwrap(), (7, "x".into()));
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    postcard::to_allocvec(value).map_err(|e| CodecError(e.to_string()))
}

/// Decodes a value; trailing bytes are an error, not silently ignored.
///
/// ```
/// assert!(chimod_sdk::codec::decode::<u8>(&[1, 2]).is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(CodecError(format!("{} unexpected trailing bytes", rest.len()))),
        Err(e) => Err(CodecError(e.to_string())),
    }
}
