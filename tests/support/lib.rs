//! The harness every process test shares: build the binaries and modules
//! once, start a runtime on its own port and shared memory identity, wait
//! for its ready line (never a fixed sleep), and clean up processes and
//! segments on every path, failures included.

mod artifacts;
mod runtime_process;

pub use artifacts::{Artifacts, artifacts};
pub use runtime_process::{RuntimeProcess, SMALL_CONFIG, StartedRuntime, segment_sizes, unique_port};
