//! The compose keys of a block device.

use chimod_sdk::{ModError, Size};
use serde::{Deserialize, Serialize};

/// What backs the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BdevType {
    /// A file; `pool_name` is its path.
    File,
    /// Memory of the runtime process.
    Ram,
}

impl BdevType {
    /// The YAML spelling.
    pub fn name(self) -> &'static str {
        match self {
            BdevType::File => "file",
            BdevType::Ram => "ram",
        }
    }
}

/// How a file device does its I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IoEngine {
    /// io_uring where the kernel and sandbox allow it, else `sync`.
    #[default]
    Auto,
    /// io_uring, or the device is not created.
    IoUring,
    /// `pread`/`pwrite` on the worker.
    Sync,
}

/// A block device's compose keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BdevParams {
    /// Total capacity (required).
    pub capacity: Size,
    /// `file` or `ram` (required).
    pub bdev_type: BdevType,
    /// Operations in flight at once (default 16, at least 1).
    #[serde(default = "default_io_depth")]
    pub io_depth: u32,
    /// Block alignment in bytes (default 4096, a power of two).
    #[serde(default = "default_alignment")]
    pub alignment: u64,
    /// File devices: `auto` (default), `io_uring` or `sync`.
    #[serde(default)]
    pub io_engine: IoEngine,
    /// Declared figures of the original runtime, reported in stats.
    #[serde(default)]
    pub read_bandwidth_mbps: Option<f64>,
    /// Declared write bandwidth.
    #[serde(default)]
    pub write_bandwidth_mbps: Option<f64>,
    /// Declared read latency.
    #[serde(default)]
    pub read_latency_us: Option<f64>,
    /// Declared write latency.
    #[serde(default)]
    pub write_latency_us: Option<f64>,
    /// Declared operations per second.
    #[serde(default)]
    pub iops: Option<f64>,
}

fn default_io_depth() -> u32 {
    16
}

fn default_alignment() -> u64 {
    4096
}

impl BdevParams {
    /// Checks what the types cannot: ranges and powers of two.
    pub fn validate(&self) -> Result<(), ModError> {
        if self.capacity.bytes() == 0 {
            return Err(ModError::new("capacity: must be more than 0 (got `0`)"));
        }
        if self.io_depth == 0 {
            return Err(ModError::new("io_depth: must be at least 1 (got `0`)"));
        }
        if !self.alignment.is_power_of_two() {
            return Err(ModError::new(format!(
                "alignment: must be a power of two (got `{}`)",
                self.alignment
            )));
        }
        if !self.capacity.bytes().is_multiple_of(self.alignment) {
            return Err(ModError::new(format!(
                "capacity: must be a multiple of alignment {} (got `{}`)",
                self.alignment, self.capacity
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chimod_sdk::decode_params;

    use super::*;

    #[test]
    fn guide_entries_decode_with_defaults() {
        let p: BdevParams =
            decode_params(r#"{"capacity":"1GB","bdev_type":"file","io_depth":32,"alignment":4096}"#).unwrap();
        assert_eq!((p.capacity.bytes(), p.bdev_type, p.io_depth), (1 << 30, BdevType::File, 32));
        let p: BdevParams = decode_params(r#"{"capacity":"512MB","bdev_type":"ram"}"#).unwrap();
        assert_eq!((p.io_depth, p.alignment), (16, 4096));
        assert!(p.validate().is_ok());
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = decode_params::<BdevParams>(r#"{"bdev_type":"ram"}"#).unwrap_err();
        assert_eq!(err.to_string(), "capacity: required key is missing");
        let err = decode_params::<BdevParams>(r#"{"capacity":"1G","bdev_type":"tape"}"#).unwrap_err();
        assert_eq!(err.key, "bdev_type");
        let p: BdevParams = decode_params(r#"{"capacity":"1G","bdev_type":"ram","alignment":3000}"#).unwrap();
        assert!(p.validate().unwrap_err().to_string().starts_with("alignment: must be a power of two"));
        let p: BdevParams = decode_params(r#"{"capacity":0,"bdev_type":"ram"}"#).unwrap();
        assert!(p.validate().unwrap_err().to_string().starts_with("capacity:"));
        let p: BdevParams = decode_params(r#"{"capacity":"1G","bdev_type":"ram","io_depth":0}"#).unwrap();
        assert!(p.validate().unwrap_err().to_string().starts_with("io_depth:"));
    }
}
