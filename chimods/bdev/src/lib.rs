//! `chimaera_bdev`: block devices backed by a file (`pool_name` is the path)
//! or by RAM.
//!
//! This is the module's first layer: it accepts and validates every compose
//! key of the deployment guide. Allocation, reads and writes come next.

mod params;

use chimod_sdk::{ChiMod, ModError, PoolInfo};
pub use params::{BdevParams, BdevType};

/// A block device container.
#[derive(Debug)]
pub struct Bdev {
    params: BdevParams,
}

impl ChiMod for Bdev {
    type Params = BdevParams;

    fn create(pool: &PoolInfo, params: BdevParams) -> Result<Self, ModError> {
        params.validate()?;
        chimod_sdk::tracing::info!(
            "{} device {pool}: capacity {}, io_depth {}, alignment {}",
            params.bdev_type.name(),
            params.capacity,
            params.io_depth,
            params.alignment
        );
        Ok(Bdev { params })
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "bdev_type": self.params.bdev_type.name(),
            "capacity": self.params.capacity.bytes(),
            "io_depth": self.params.io_depth,
            "alignment": self.params.alignment,
        })
    }
}

chimod_sdk::export_module!(Bdev);
