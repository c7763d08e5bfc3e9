//! A cluster of runtime processes on this machine: loopback addresses
//! (127.0.0.x), one hostfile, one port, each node named by
//! `CHI_NODE_ADDRESS`; heartbeats every 100 ms so failures show quickly.

use std::time::Duration;

use crate::{RuntimeProcess, SMALL_CONFIG, StartedRuntime, unique_port};

/// The cluster's shared settings.
#[derive(Debug)]
pub struct Cluster {
    hostfile: tempfile::NamedTempFile,
    /// The port every node uses.
    pub port: u16,
    /// Lines added under `networking:` for the nodes started from now on.
    pub extra: String,
    /// Compose entries (YAML list items) added after the example pool 400.0.
    pub compose: String,
    /// `runtime.heartbeat_interval` of the nodes started from now on (SWIM
    /// probes five times per interval).
    pub heartbeat_ms: u32,
}

impl Cluster {
    /// A cluster of the nodes at `nodes` (hostfile order), with
    /// `extra_networking` lines under `networking:`.
    pub fn new(nodes: &[&str], extra_networking: &str) -> Cluster {
        let hostfile = tempfile::NamedTempFile::new().expect("hostfile");
        std::fs::write(hostfile.path(), nodes.join("\n")).expect("write hostfile");
        Cluster {
            hostfile,
            port: unique_port(),
            extra: extra_networking.to_owned(),
            compose: String::new(),
            heartbeat_ms: 100,
        }
    }

    /// Rewrites the hostfile (the nodes running keep what they read until
    /// they re-read it).
    pub fn set_nodes(&self, nodes: &[&str]) {
        std::fs::write(self.hostfile.path(), nodes.join("\n")).expect("write hostfile");
    }

    /// Runs the `chimaera` command against the node at `address`: its
    /// exit code, stdout and stderr.
    pub fn chimaera(&self, address: &str, args: &[&str]) -> (i32, String, String) {
        let out = std::process::Command::new(crate::artifacts().bin("chimaera"))
            .args(args)
            .arg("--port")
            .arg(self.port.to_string())
            .env("CHI_NODE_ADDRESS", address)
            .env_remove("CHI_SERVER_CONF")
            .output()
            .expect("run chimaera");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    /// Creates a broadcast pool of `chimaera_custom_mod` named `name` with
    /// id `pool_id` through `chimaera compose` at the node at `address`,
    /// which must succeed; returns what the command printed.
    pub fn compose_broadcast(&self, address: &str, name: &str, pool_id: &str) -> String {
        let file = tempfile::NamedTempFile::new().expect("compose file");
        std::fs::write(
            file.path(),
            format!("compose:\n  - mod_name: chimaera_custom_mod\n    pool_name: {name}\n    pool_query: broadcast\n    pool_id: {pool_id}\n    custom_param1: x\n    custom_param2: z\n"),
        )
        .expect("write compose file");
        let (code, out, err) = self.chimaera(address, &["compose", &file.path().display().to_string()]);
        assert_eq!(code, 0, "{out}{err}");
        out
    }

    /// Waits until `node` has taken in the cluster's broadcast pools (or
    /// found none to take), so that a broadcast creation made afterwards
    /// is the only one to reach it.
    pub fn await_join(node: &StartedRuntime) {
        crate::poll_until(
            "the node joining the cluster",
            Duration::from_secs(60),
            Duration::from_millis(10),
            || {
                let log = node.log();
                log.contains("took in the cluster's broadcast pools")
                    || log.contains("no broadcast pools to take in")
            },
        );
    }

    /// The node at `address`, not started.
    pub fn spec(&self, address: &str) -> RuntimeProcess {
        let config = SMALL_CONFIG.replace(
            "networking:\n  port: {port}\n",
            &format!(
                "networking:\n  port: {{port}}\n  hostfile: {}\n{}",
                self.hostfile.path().display(),
                self.extra
            ),
        ) + &format!("runtime:\n  heartbeat_interval: {}\n", self.heartbeat_ms)
            + "compose:\n  - mod_name: chimaera_custom_mod\n    pool_name: custom\n    pool_query: local\n    pool_id: 400.0\n    custom_param1: a\n    custom_param2: b\n"
            + &self.compose;
        RuntimeProcess::on_port(&config, self.port).node_address(address)
    }

    /// Starts the node at `address`.
    pub fn start(&self, address: &str) -> StartedRuntime {
        self.spec(address).start()
    }
}
