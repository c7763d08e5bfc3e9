//! The harness every process test shares: build the binaries and modules
//! once, start a runtime on its own port and shared memory identity, wait
//! for its ready line (never a fixed sleep), and clean up processes and
//! segments on every path, failures included.

mod artifacts;
mod cluster;
mod fixture_modules;
pub mod markdown;
mod netns;
mod pattern;
mod poll;
mod pools;
mod runtime_process;
mod sockets;
pub mod zmtp;

pub use artifacts::{Artifacts, artifacts, workspace_root};
pub use cluster::Cluster;
pub use fixture_modules::{
    GARBAGE_MODULE, MISMATCHED_MODULE, NOT_A_MODULE, OOT_MODULE, OOT_MODULE_V2, fixture_modules,
};
pub use netns::NetNs;
pub use pattern::pattern;
pub use poll::poll_until;
pub use pools::{
    ECHO, GREETER, RAM_DEV_ENTRY, TWO_PLUS_ONE, attach, oot, pools_config, start_with_pools, tasks_done,
};
pub use runtime_process::{RuntimeProcess, SMALL_CONFIG, StartedRuntime, segment_sizes, unique_port};
pub use sockets::connections_to_port;
