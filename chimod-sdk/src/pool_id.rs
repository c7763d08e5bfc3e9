//! Pool identities: `major.minor`, as compose files write them (`300.0`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The cluster-wide identity of a pool, written `major.minor`.
///
/// YAML reads an unquoted `300.0` as a float; the config loader hands the raw
/// scalar text to [`PoolId::from_str`], so `1000.100` keeps its minor of 100.
///
/// ```
/// use chimod_sdk::PoolId;
/// let id: PoolId = "301.5".parse().unwrap();
/// assert_eq!((id.major, id.minor), (301, 5));
/// assert_eq!(id.to_string(), "301.5");
/// assert!("300".parse::<PoolId>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C)]
pub struct PoolId {
    /// The first number: a module family by convention (300s for bdev, 400s for custom).
    pub major: u32,
    /// The second number: an instance within the family.
    pub minor: u32,
}

/// Why a text is not a pool id.
///
/// ```
/// let err = "a.b".parse::<chimod_sdk::PoolId>().unwrap_err();
/// assert!(err.to_string().contains("a.b"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a pool id: write \"major.minor\" with two whole numbers, e.g. \"300.0\"")]
pub struct PoolIdError(String);

impl PoolId {
    /// The runtime's own admin pool, created before any compose entry.
    ///
    /// ```
    /// assert_eq!(chimod_sdk::PoolId::ADMIN.to_string(), "1.0");
    /// ```
    pub const ADMIN: PoolId = PoolId::new(1, 0);

    /// The pool id `major.minor`.
    ///
    /// ```
    /// assert_eq!(chimod_sdk::PoolId::new(300, 0).to_string(), "300.0");
    /// ```
    pub const fn new(major: u32, minor: u32) -> Self {
        PoolId { major, minor }
    }
}

impl FromStr for PoolId {
    type Err = PoolIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PoolIdError(s.to_owned());
        let (major, minor) = s.trim().split_once('.').ok_or_else(err)?;
        let number = |part: &str| -> Result<u32, PoolIdError> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        Ok(PoolId::new(number(major)?, number(minor)?))
    }
}

impl fmt::Display for PoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for PoolId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PoolId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PoolIdVisitor;

        impl Visitor<'_> for PoolIdVisitor {
            type Value = PoolId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a pool id \"major.minor\" such as \"300.0\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<PoolId, E> {
                v.parse().map_err(E::custom)
            }

            // Only deserializers that already lost the scalar's text (JSON) get
            // here; `300.0` survives that, `1000.100` would not, so refuse it.
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PoolId, E> {
                if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) {
                    Ok(PoolId::new(v as u32, 0))
                } else {
                    Err(E::custom(format_args!(
                        "pool id {v} was read as a number; quote it (\"major.minor\") so the minor part is kept"
                    )))
                }
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PoolId, E> {
                Err(E::custom(PoolIdError(v.to_string())))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PoolId, E> {
                Err(E::custom(PoolIdError(v.to_string())))
            }
        }

        // Ask for a string: the YAML deserializer then yields the scalar exactly as written.
        deserializer.deserialize_str(PoolIdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_guides_examples() {
        for (text, major, minor) in [("300.0", 300, 0), ("301.5", 301, 5), ("1000.100", 1000, 100)] {
            assert_eq!(text.parse::<PoolId>().unwrap(), PoolId::new(major, minor));
        }
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in ["300", "a.b", "1.2.3", "-1.0", ".5", "5.", "", "4294967296.0", "1 .0"] {
            assert!(bad.parse::<PoolId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn yaml_keeps_the_written_minor() {
        #[derive(Debug, Deserialize)]
        struct E {
            pool_id: PoolId,
        }
        let e: E = serde_saphyr::from_str("pool_id: 1000.100\n").unwrap();
        assert_eq!(e.pool_id, PoolId::new(1000, 100));
        let e: E = serde_saphyr::from_str("pool_id: \"300.0\"\n").unwrap();
        assert_eq!(e.pool_id, PoolId::new(300, 0));
        assert!(serde_saphyr::from_str::<E>("pool_id: 300\n").is_err());
    }
}
