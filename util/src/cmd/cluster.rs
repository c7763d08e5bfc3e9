//! `chimaera cluster members|reload|leave`: the nodes this one knows, taking
//! in nodes added to the hostfile while the cluster runs, and leaving it.

use std::process::ExitCode;

use serde_json::json;

use super::{ClientFlags, Printing};
use crate::{fail, say, table};

/// What to do with the cluster.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClusterCommand {
    /// Every node this one knows: id, address, state (`self`, `up`, `down`,
    /// `left`, `unknown`) and when it was last heard from.
    Members(Printing),
    /// Re-read the hostfile and take in the nodes added at its end (node
    /// ids are line order: known nodes keep their lines). SIGHUP does the
    /// same on one node; a node also re-reads by itself when an unknown
    /// node speaks.
    Reload {
        /// Every node this one knows re-reads its own hostfile too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        #[allow(missing_docs)]
        out: Printing,
    },
    /// This node leaves the cluster cleanly and stops: the others stop
    /// probing it, pass it by in broadcasts and fail its tasks at once.
    /// Started again, it rejoins.
    Leave(ClientFlags),
}

/// Runs a cluster command.
pub fn run(command: &ClusterCommand, tool: &str) -> ExitCode {
    match command {
        ClusterCommand::Members(out) => members(out, tool),
        ClusterCommand::Reload { all, out } => reload(*all, out, tool),
        ClusterCommand::Leave(flags) => {
            let by = format!("{tool} cluster leave (pid {})", std::process::id());
            match flags.ask(tool, |c| c.admin().leave_cluster(&by)) {
                Ok(()) => {
                    say!("left the cluster; the runtime is stopping");
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
    }
}

fn members(out: &Printing, tool: &str) -> ExitCode {
    let stats = match out.client.ask(tool, |c| c.admin().stats()) {
        Ok(stats) => stats,
        Err(code) => return code,
    };
    if out.json {
        let nodes: Vec<_> = stats
            .nodes
            .iter()
            .map(|n| json!({"node_id": n.node_id, "address": n.address, "state": n.state, "last_heard_ms": n.last_heard_ms}))
            .collect();
        say!("{}", serde_json::Value::Array(nodes));
        return ExitCode::SUCCESS;
    }
    if stats.nodes.is_empty() {
        say!("a single node (no networking.hostfile)");
        return ExitCode::SUCCESS;
    }
    let mut rows = vec![["NODE", "ADDRESS", "STATE", "LAST HEARD"].map(str::to_owned).to_vec()];
    for n in &stats.nodes {
        let heard =
            n.last_heard_ms.map_or_else(|| "-".to_owned(), |ms| format!("{:.1} s ago", ms as f64 / 1000.0));
        rows.push(vec![n.node_id.to_string(), n.address.clone(), n.state.clone(), heard]);
    }
    for line in table(&rows) {
        say!("{line}");
    }
    ExitCode::SUCCESS
}

fn reload(all: bool, out: &Printing, tool: &str) -> ExitCode {
    let answers = match out.client.ask(tool, |c| c.admin().reload_hostfile(all)) {
        Ok(answers) => answers,
        Err(code) => return code,
    };
    let failed: Vec<String> =
        answers.iter().filter_map(|a| a.error.as_ref().map(|e| format!("node {}: {e}", a.node_id))).collect();
    if out.json {
        let list: Vec<_> = answers
            .iter()
            .map(|a| {
                let added: Vec<_> =
                    a.added.iter().map(|(id, addr)| json!({"node_id": id, "address": addr})).collect();
                json!({"node_id": a.node_id, "nodes": a.nodes, "added": added, "error": a.error})
            })
            .collect();
        say!("{}", serde_json::Value::Array(list));
    } else {
        for a in answers.iter().filter(|a| a.error.is_none()) {
            let added: Vec<String> = a.added.iter().map(|(id, addr)| format!("node {id} ({addr})")).collect();
            if added.is_empty() {
                say!("node {}: now {} nodes; no new node", a.node_id, a.nodes);
            } else {
                say!("node {}: now {} nodes; taken in: {}", a.node_id, a.nodes, added.join(", "));
            }
        }
    }
    if failed.is_empty() { ExitCode::SUCCESS } else { fail(tool, 1, &failed.join("; ")) }
}
