//! Tasks that start inside the runtime rather than in a client's slot:
//! subtasks a module submits while it runs a task, and periodic tasks. Both
//! run on the same workers as client tasks.

mod completion;
mod internal;
mod periodic;

pub use completion::{Completion, Outcome};
pub use internal::InternalTask;
pub use periodic::{PeriodicEntry, PeriodicTasks};
