//! A submitted task whose output has a type: what typed clients return
//! from their asynchronous calls.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{ClientError, PendingTask};

/// A task in flight whose output decodes to `O`.
#[derive(Debug)]
pub struct TypedPending<'a, O> {
    task: PendingTask<'a>,
    _output: PhantomData<fn() -> O>,
}

impl<'a, O: DeserializeOwned> TypedPending<'a, O> {
    pub(super) fn new(task: PendingTask<'a>) -> Self {
        TypedPending { task, _output: PhantomData }
    }

    /// Whether the task has finished.
    pub fn is_done(&self) -> bool {
        self.task.is_done()
    }

    /// Waits for the output (for at most `timeout`, if given) and decodes it.
    pub fn wait(self, timeout: Option<Duration>) -> Result<O, ClientError> {
        let bytes = self.task.wait(timeout)?;
        Ok(chimod_sdk::codec::decode(&bytes)?)
    }
}
