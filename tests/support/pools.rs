//! A runtime with the pools most task tests use: the out-of-tree module's
//! `greeter` (500.0) and four example-module pools (400.0 to 400.3), and
//! the methods of those modules as a client declares them.

use std::time::Duration;

use chimaera_client::Client;
use chimod_sdk::{Method, PoolId};

use crate::{OOT_MODULE, RuntimeProcess, SMALL_CONFIG, StartedRuntime, fixture_modules};

/// The `greeter` pool of the out-of-tree module.
pub const GREETER: PoolId = PoolId::new(500, 0);
/// Two scheduler workers and one slow worker.
pub const TWO_PLUS_ONE: &str = "workers:\n  sched_threads: 2\n  slow_threads: 1\n";

/// The out-of-tree fixture module's methods.
pub mod oot {
    use chimod_sdk::Method;

    /// `"<greeting>, <name>!"`
    pub const GREET: Method<String, String> = Method::new(10);
    /// Always panics.
    pub const PANIC: Method<(), ()> = Method::new(11);
    /// Sleeps this many milliseconds.
    pub const SLEEP: Method<u64, ()> = Method::new(12);
    /// Recurses this deep with 1 KiB of stack per level.
    pub const RECURSE: Method<u32, u64> = Method::new(13);
    /// The module's version.
    pub const VERSION: Method<(), String> = Method::new(14);
}

/// A compose entry: the 1 MiB RAM device `ram_dev`, pool 301.0.
pub const RAM_DEV_ENTRY: &str = "  - mod_name: chimaera_bdev\n    pool_name: ram_dev\n    pool_query: local\n    pool_id: 301.0\n    capacity: 1M\n    bdev_type: ram\n";

/// The example module's echo (see `chimods/custom`).
pub const ECHO: Method<Vec<u8>, Vec<u8>> = Method::new(11);

/// The config: `workers` replaces the small config's workers section;
/// `extra_runtime` lines go under `runtime:` (queue depth 64 unless given).
pub fn pools_config(workers: &str, extra_runtime: &str) -> String {
    let base = SMALL_CONFIG.replace("workers:\n  sched_threads: 1\n  slow_threads: 1\n", workers);
    let depth = if extra_runtime.contains("queue_depth") { "" } else { "  queue_depth: 64\n" };
    format!(
        "{base}runtime:\n{depth}{extra_runtime}compose:\n  - mod_name: {OOT_MODULE}\n    pool_name: greeter\n    pool_query: local\n    pool_id: 500.0\n    greeting: hello\n{}",
        (0..4)
            .map(|i| format!(
                "  - mod_name: chimaera_custom_mod\n    pool_name: custom{i}\n    pool_query: local\n    pool_id: 400.{i}\n    custom_param1: a\n    custom_param2: b\n"
            ))
            .collect::<String>()
    )
}

/// Starts a runtime with [`pools_config`] and the fixture modules on its path.
pub fn start_with_pools(workers: &str, extra_runtime: &str) -> StartedRuntime {
    RuntimeProcess::new(&pools_config(workers, extra_runtime)).env("CHI_REPO_PATH", fixture_modules()).start()
}

/// A client of `rt` (of its node, when it names one).
pub fn attach(rt: &StartedRuntime) -> Client {
    Client::attach_identity(rt.spec().identity(), Duration::from_secs(10)).expect("attach")
}

/// Tasks every worker of the client's runtime has completed.
pub fn tasks_done(client: &Client) -> u64 {
    client.admin().stats().expect("runtime stats").workers.iter().map(|w| w.tasks_done).sum()
}
