//! Byte sizes as operators write them: `1073741824`, `64K`, `512M`, `1G`, `1GB`.
//!
//! Every unit is binary, as the deployment guide's own comments use them
//! (`1073741824 # 1GB`): `1G` = `1GB` = `1GiB` = 2^30. Parsing is delegated to
//! `parse-size` in binary mode; the decimal reading of `GB` (10^9) that other
//! crates apply would silently shrink every configured segment by 7%.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const PARSER: parse_size::Config = parse_size::Config::new().with_binary();

/// A number of bytes, parsed from a plain integer or a suffixed string.
///
/// ```
/// use chimod_sdk::Size;
/// assert_eq!("512M".parse::<Size>().unwrap().bytes(), 512 << 20);
/// assert_eq!("1GB".parse::<Size>().unwrap(), Size::from_bytes(1 << 30));
/// assert_eq!(Size::from_bytes(64 << 10).to_string(), "64K");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Size(u64);

/// Why a text is not a size.
///
/// ```
/// let err = "12 parsecs".parse::<chimod_sdk::Size>().unwrap_err();
/// assert!(err.to_string().contains("12 parsecs"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a size: {reason}; write bytes (1073741824) or a number with K, M, G or T (binary units, e.g. 512M)"
)]
pub struct SizeError {
    input: String,
    reason: String,
}

impl Size {
    /// A size of exactly `bytes` bytes.
    ///
    /// ```
    /// assert_eq!(chimod_sdk::Size::from_bytes(4096).bytes(), 4096);
    /// ```
    pub const fn from_bytes(bytes: u64) -> Self {
        Size(bytes)
    }

    /// The number of bytes.
    ///
    /// ```
    /// assert_eq!("1K".parse::<chimod_sdk::Size>().unwrap().bytes(), 1024);
    /// ```
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for Size {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PARSER
            .parse_size(s.trim())
            .map(Size)
            .map_err(|e| SizeError { input: s.to_owned(), reason: e.to_string() })
    }
}

/// Prints the shortest exact form in the notation the parser reads back
/// (`1G`, `512M`, `4097`), so a logged size can be pasted into a config file.
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u32, &str); 4] = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
        for (shift, unit) in UNITS {
            let scale = 1u64 << shift;
            if self.0 >= scale && self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = Size;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1073741824, 64K, 512M or 1G")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format_args!("a size cannot be negative (got {v})")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
                if v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
                    Ok(Size(v as u64))
                } else {
                    Err(E::custom(format_args!(
                        "a size is a whole number of bytes or a suffixed value like 512M (got {v})"
                    )))
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_form_is_binary() {
        let cases = [
            ("1073741824", 1u64 << 30),
            ("1G", 1 << 30),
            ("1GB", 1 << 30),
            ("1gb", 1 << 30),
            ("1GiB", 1 << 30),
            ("512M", 512 << 20),
            ("512MB", 512 << 20),
            ("512mb", 512 << 20),
            ("64K", 64 << 10),
            ("64KB", 64 << 10),
            ("100GB", 100 << 30),
            ("2T", 2 << 40),
            ("4096", 4096),
        ];
        for (text, bytes) in cases {
            assert_eq!(text.parse::<Size>().unwrap().bytes(), bytes, "{text}");
        }
    }

    #[test]
    fn malformed_sizes_name_the_input() {
        for bad in ["", "G", "12X", "1.2.3G", "-5M", "ten"] {
            let err = bad.parse::<Size>().unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for bytes in [0, 1, 4095, 4096, 65536, 3 << 20, 1 << 30, 5 << 40, (1 << 30) + 1] {
            let size = Size::from_bytes(bytes);
            assert_eq!(size.to_string().parse::<Size>().unwrap(), size);
        }
        assert_eq!(Size::from_bytes(512 << 20).to_string(), "512M");
    }

    #[test]
    fn deserializes_integers_and_strings() {
        #[derive(Debug, Deserialize)]
        struct S {
            a: Size,
            b: Size,
        }
        let s: S = serde_saphyr::from_str("a: 1073741824\nb: 512MB\n").unwrap();
        assert_eq!((s.a.bytes(), s.b.bytes()), (1 << 30, 512 << 20));
        let err = serde_saphyr::from_str::<S>("a: -1\nb: 1\n").unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
        let json: S = serde_json::from_str(r#"{"a": 4096, "b": "64K"}"#).unwrap();
        assert_eq!((json.a.bytes(), json.b.bytes()), (4096, 65536));
    }
}
