//! Why a pool could not be created.

use chimod_sdk::PoolId;

use crate::module::{CreateError, ModuleError};

/// A pool creation failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// The id is taken.
    #[error("pool id {id} is already used by pool `{existing_name}` ({existing_mod})")]
    DuplicateId {
        /// The id asked for.
        id: PoolId,
        /// The pool that has it.
        existing_name: String,
        /// That pool's module.
        existing_mod: String,
    },
    /// The name is taken.
    #[error("pool name `{name}` is already used by pool {existing_id} ({existing_mod})")]
    DuplicateName {
        /// The name asked for.
        name: String,
        /// The pool that has it.
        existing_id: PoolId,
        /// That pool's module.
        existing_mod: String,
    },
    /// The module could not be loaded.
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The module's create handler failed.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// The parameters could not be handed over.
    #[error("parameters: {0}")]
    Params(String),
}
