//! # chimod-sdk
//!
//! The one crate a Chimaera module ("ChiMod") author depends on. It defines
//! every type that crosses the boundary between the runtime and a module, so
//! the runtime never declares a type that a module must declare again.
//!
//! This first layer holds the value types that configuration, compose entries
//! and tasks share: [`Size`], [`PoolId`] and [`PoolQuery`].
//!
//! ```
//! use chimod_sdk::{PoolId, PoolQuery, Size};
//! let capacity: Size = "1GB".parse()?;
//! let id: PoolId = "300.0".parse()?;
//! assert_eq!((capacity.bytes(), id.major, PoolQuery::default()), (1 << 30, 300, PoolQuery::Dynamic));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod pool_id;
mod pool_query;
mod size;

pub use pool_id::{PoolId, PoolIdError};
pub use pool_query::{PoolQuery, PoolQueryError};
pub use size::{Size, SizeError};
