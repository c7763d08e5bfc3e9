//! The Chimaera runtime core.
//!
//! Each manager is a module with a narrow surface, passed what it needs
//! rather than reached through globals:
//!
//! - [`config`] (the `chimaera-config` crate): which YAML file, parsed,
//!   defaulted and validated.
//! - [`cluster`]: the hostfile and which node this runtime is.
//! - [`net`]: frames and the ZeroMQ transport between nodes.
//! - [`remote`]: the TCP endpoint of clients on other hosts (`networking.client_port`).
//! - [`logging`]: `tracing` to stderr and `logging.file`.
//! - [`shm`], [`ipc`], [`bulk`] (the `chimaera-protocol` crate): the three
//!   POSIX shared memory segments, the task queue and the bulk heaps, which
//!   clients read through the same crate.
//! - [`module`]: finding, loading and checking module plugins.
//! - [`pool`]: pools and their containers.
//! - [`compose`]: the admin pool and the `compose:` section at start-up.
//! - [`server`]: the runtime process's start, serve and stop.
//! - [`stop`]: how a stop is requested.
//! - [`worker`]: the threads that run tasks, each task on its own fiber.
//! - [`task`]: subtasks and periodic tasks, which start inside the runtime.

pub mod admin;
pub mod cluster;
pub mod compose;
pub mod logging;
pub mod module;
pub mod net;
pub mod node;
pub mod pool;
pub mod reaper;
pub mod remote;
pub mod server;
pub mod stop;
pub mod task;
pub mod worker;

// The configuration and the shared-memory protocol are crates of their own,
// shared with the client library; these keep their paths inside the runtime.
pub use chimaera_config as config;
use chimaera_protocol::spin;
pub use chimaera_protocol::{bulk, ipc, shm};
