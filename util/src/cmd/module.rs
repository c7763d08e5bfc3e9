//! `chimaera module list|upgrade`: which module versions run, and
//! replacing one under load.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::{ClientFlags, Printing};
use crate::{say, table};

/// What to do with modules.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ModuleCommand {
    /// Every loaded module: name, version, library, pools, and the versions
    /// live upgrades replaced.
    List(Printing),
    /// Replaces a module's code under load: loads the library at PATH
    /// (checked as at start), holds new tasks for the module's pools,
    /// waits for their running tasks, hands each container over to the new
    /// version, and releases the held tasks to it. A failure leaves the old
    /// version serving.
    Upgrade {
        /// The module's name, e.g. `chimaera_bdev`.
        mod_name: String,
        /// The new library (`lib<mod_name>.so` built against this SDK).
        path: PathBuf,
        /// Upgrade every node of the cluster, one at a time in node order
        /// (this node first); PATH must name the library on every node. A
        /// failing node stops the rollout; the nodes after it keep the old
        /// version.
        #[arg(long)]
        cluster: bool,
        #[command(flatten)]
        #[allow(missing_docs)]
        out: Printing,
    },
}

/// Runs a module command.
pub fn run(command: &ModuleCommand, tool: &str) -> ExitCode {
    match command {
        ModuleCommand::List(out) => list(&out.client, out.json, tool),
        ModuleCommand::Upgrade { mod_name, path, cluster, out } => {
            super::upgrade::run(mod_name, path, *cluster, out, tool)
        }
    }
}

fn list(flags: &ClientFlags, as_json: bool, tool: &str) -> ExitCode {
    let modules = match flags.ask(tool, |c| c.admin().list_modules()) {
        Ok(modules) => modules,
        Err(code) => return code,
    };
    if as_json {
        let list: Vec<_> = modules
            .iter()
            .map(|m| {
                json!({
                    "mod_name": m.mod_name,
                    "version": m.version,
                    "path": m.path,
                    "pools": m.pools.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "replaced": m.replaced,
                })
            })
            .collect();
        say!("{}", serde_json::Value::Array(list));
        return ExitCode::SUCCESS;
    }
    let mut rows = vec![["MODULE", "VERSION", "POOLS", "REPLACED", "LIBRARY"].map(str::to_owned).to_vec()];
    for m in &modules {
        let pools: Vec<String> = m.pools.iter().map(ToString::to_string).collect();
        rows.push(vec![
            m.mod_name.clone(),
            m.version.clone(),
            if pools.is_empty() { "-".to_owned() } else { pools.join(",") },
            if m.replaced.is_empty() { "-".to_owned() } else { m.replaced.join(",") },
            m.path.clone(),
        ]);
    }
    for line in table(&rows) {
        say!("{line}");
    }
    ExitCode::SUCCESS
}
