//! A compose entry's module keys, decoded into the module's own struct.
//!
//! The runtime hands the keys over as JSON text (every key of the entry but
//! `mod_name`, `pool_name`, `pool_query` and `pool_id`, in file order). The
//! SDK decodes them with serde and names the key that was wrong.

use serde::de::DeserializeOwned;

/// The parameters of a module that takes none: an entry with keys of its
/// own is refused, so a misplaced key does not go unnoticed.
///
/// ```
/// use chimod_sdk::{NoParams, decode_params};
/// assert!(decode_params::<NoParams>("{}").is_ok());
/// let err = decode_params::<NoParams>(r#"{"capacity": "1G"}"#).unwrap_err();
/// assert!(err.to_string().contains("unknown field `capacity`"), "{err}");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Why parameters did not decode: the key path and what was wrong with it.
///
/// ```
/// #[derive(serde::Deserialize, Debug)]
/// struct P { capacity: chimod_sdk::Size }
/// let err = chimod_sdk::decode_params::<P>("{}").unwrap_err();
/// assert_eq!(err.to_string(), "capacity: required key is missing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ParamsError {
    /// The key path, e.g. `capacity` or `options.depth`.
    pub key: String,
    /// What was wrong.
    pub problem: String,
}

/// Decodes a module's parameters from the JSON the runtime passes.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct P { custom_param1: String, #[serde(default)] io_depth: Option<u32> }
/// let p: P = chimod_sdk::decode_params(r#"{"custom_param1": "value1"}"#).unwrap();
/// assert_eq!((p.custom_param1.as_str(), p.io_depth), ("value1", None));
/// let err = chimod_sdk::decode_params::<P>(r#"{"custom_param1": 5}"#).err().unwrap();
/// assert!(err.to_string().starts_with("custom_param1: invalid type: integer `5`"));
/// ```
pub fn decode_params<T: DeserializeOwned>(json: &str) -> Result<T, ParamsError> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        // serde_json's positions point into JSON the operator never wrote.
        let message = strip_position(&err.inner().to_string());
        let parent = if path == "." { String::new() } else { path };
        match missing_field(&message) {
            Some(field) => {
                ParamsError { key: join(&parent, field), problem: "required key is missing".to_owned() }
            }
            None => ParamsError {
                key: if parent.is_empty() { "(parameters)".to_owned() } else { parent },
                problem: message,
            },
        }
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::Size;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        depth: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Params {
        name: String,
        capacity: Size,
        tags: Vec<String>,
        nested: Nested,
        extra: Option<BTreeMap<String, serde_json::Value>>,
    }

    #[test]
    fn every_kind_of_value_decodes() {
        let p: Params = decode_params(
            r#"{"name":"n","capacity":"512M","tags":["a","b"],"nested":{"depth":3},"extra":{"k":[1,{"x":true}]}}"#,
        )
        .unwrap();
        assert_eq!(p.capacity.bytes(), 512 << 20);
        assert_eq!(p.tags, ["a", "b"]);
        assert_eq!(p.nested.depth, 3);
    }

    #[test]
    fn errors_name_the_key() {
        let base = r#""name":"n","capacity":"1G","tags":[]"#;
        let err = decode_params::<Params>(&format!("{{{base}}}")).unwrap_err();
        assert_eq!(err.to_string(), "nested: required key is missing");
        let err = decode_params::<Params>(&format!(r#"{{{base},"nested":{{}}}}"#)).unwrap_err();
        assert_eq!(err.to_string(), "nested.depth: required key is missing");
        let err = decode_params::<Params>(&format!(r#"{{{base},"nested":{{"depth":"deep"}}}}"#)).unwrap_err();
        assert_eq!(err.key, "nested.depth");
        assert!(err.problem.contains("invalid type: string \"deep\""), "{err}");
        assert!(!err.problem.contains("line"), "{err}");
        let err = decode_params::<Params>(r#"{"name":"n","capacity":"huge","tags":[],"nested":{"depth":1}}"#)
            .unwrap_err();
        assert_eq!(err.key, "capacity");
        assert!(err.problem.contains("`huge` is not a size"), "{err}");
    }
}
