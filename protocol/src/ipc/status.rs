//! A finished task's outcome, as the runtime writes it into the slot.

/// The outcome codes of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum TaskStatus {
    /// The method returned; the payload is its output.
    Ok = 0,
    /// The module returned an error; the payload is its message.
    Error = 1,
    /// The module panicked; the payload is the panic message.
    Panicked = 2,
    /// No pool with the task's id on this node.
    NoPool = 3,
    /// The runtime is stopping and did not run the task.
    Stopping = 4,
    /// The task itself was malformed (lengths out of range).
    BadTask = 5,
}

impl TaskStatus {
    /// The status for a code read from shared memory; unknown codes are
    /// malformed tasks, never undefined behaviour.
    pub fn from_code(code: u32) -> TaskStatus {
        match code {
            0 => TaskStatus::Ok,
            1 => TaskStatus::Error,
            2 => TaskStatus::Panicked,
            3 => TaskStatus::NoPool,
            4 => TaskStatus::Stopping,
            _ => TaskStatus::BadTask,
        }
    }
}
