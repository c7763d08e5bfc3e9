//! A task submitted inside the runtime.

use std::sync::Arc;

use chimod_sdk::{PoolId, Route};

use super::Completion;

/// A subtask: which pool and method, its input, and where its outcome goes
/// (nowhere for one nobody waits for).
#[derive(Debug)]
pub struct InternalTask {
    /// Target pool.
    pub pool: PoolId,
    /// Method number.
    pub method: u32,
    /// Encoded input (owned: the submitter's buffer is gone by the time it runs).
    pub input: Vec<u8>,
    /// Receives the outcome.
    pub completion: Option<Arc<Completion>>,
    /// The process on whose behalf it runs (the client of the task that
    /// submitted it): bulk buffers it allocates belong to that process.
    pub owner: u32,
    /// Where in the cluster it runs (a task from another node: `Local`).
    pub route: Route,
}
