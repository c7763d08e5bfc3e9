//! `chimaera pool list|stats|destroy`: what pools exist, on which nodes,
//! with which module version, and what each is doing.

use std::collections::BTreeMap;
use std::process::ExitCode;

use chimod_sdk::PoolId;
use chimod_sdk::admin::PoolDescription;
use serde_json::{Value, json};

use super::{ClientFlags, Printing};
use crate::{say, table};

/// What to do with pools.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PoolCommand {
    /// Every pool: id, name, module and version, query, the nodes that have
    /// it, and its parameters (in a cluster, every node is asked).
    List(Printing),
    /// One pool's figures on this node: tasks, errors, and the module's own
    /// statistics (a bdev's bytes, operations and latencies).
    Stats {
        /// The pool id, `major.minor`.
        id: PoolId,
        #[command(flatten)]
        #[allow(missing_docs)]
        out: Printing,
    },
    /// Destroys a pool on this node; it stays destroyed across restarts.
    Destroy {
        /// The pool id, `major.minor`.
        id: PoolId,
        #[command(flatten)]
        #[allow(missing_docs)]
        client: ClientFlags,
    },
}

/// A pool as JSON, its parameters as an object.
pub fn pool_json(p: &PoolDescription) -> Value {
    json!({
        "pool_id": p.pool_id.to_string(),
        "pool_name": p.pool_name,
        "mod_name": p.mod_name,
        "mod_version": p.mod_version,
        "pool_query": p.pool_query.to_string(),
        "params": serde_json::from_str::<Value>(&p.params_json).unwrap_or(Value::Null),
    })
}

/// Runs a pool command.
pub fn run(command: &PoolCommand, tool: &str) -> ExitCode {
    match command {
        PoolCommand::List(out) => list(&out.client, out.json, tool),
        PoolCommand::Stats { id, out } => stats(*id, &out.client, out.json, tool),
        PoolCommand::Destroy { id, client } => match client.ask(tool, |c| c.admin().destroy_pool(*id)) {
            Ok(()) => {
                say!("pool {id} destroyed");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

fn list(flags: &ClientFlags, as_json: bool, tool: &str) -> ExitCode {
    let nodes = match flags.ask(tool, |c| c.admin().cluster_pools()) {
        Ok(nodes) => nodes,
        Err(code) => return code,
    };
    // By id: the description (as the lowest node has it) and its nodes.
    let mut pools: BTreeMap<PoolId, (PoolDescription, Vec<u32>)> = BTreeMap::new();
    for node in &nodes {
        for p in &node.pools {
            pools.entry(p.pool_id).or_insert_with(|| (p.clone(), Vec::new())).1.push(node.node_id);
        }
    }
    let silent: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.error.as_ref().map(|e| format!("node {} did not answer: {e}", n.node_id)))
        .collect();
    if as_json {
        let list: Vec<Value> = pools
            .values()
            .map(|(p, on)| {
                let mut v = pool_json(p);
                v["nodes"] = json!(on);
                v
            })
            .collect();
        say!("{}", Value::Array(list));
    } else {
        let mut rows = vec![
            ["ID", "NAME", "MODULE", "VERSION", "QUERY", "NODES", "PARAMETERS"].map(str::to_owned).to_vec(),
        ];
        for (p, on) in pools.values() {
            let on: Vec<String> = on.iter().map(u32::to_string).collect();
            rows.push(vec![
                p.pool_id.to_string(),
                p.pool_name.clone(),
                p.mod_name.clone(),
                p.mod_version.clone(),
                p.pool_query.to_string(),
                on.join(","),
                p.params_json.clone(),
            ]);
        }
        for line in table(&rows) {
            say!("{line}");
        }
    }
    for line in &silent {
        crate::warn_line(tool, line);
    }
    if silent.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn stats(id: PoolId, flags: &ClientFlags, as_json: bool, tool: &str) -> ExitCode {
    let stats = match flags.ask(tool, |c| c.admin().pool_stats(id)) {
        Ok(stats) => stats,
        Err(code) => return code,
    };
    let module: Value = serde_json::from_str(&stats.module_json).unwrap_or(Value::Null);
    if as_json {
        let mut v = pool_json(&stats.pool);
        v["tasks"] = json!(stats.tasks);
        v["errors"] = json!(stats.errors);
        v["module_stats"] = module;
        say!("{v}");
        return ExitCode::SUCCESS;
    }
    let p = &stats.pool;
    say!("pool {} `{}`: {} {} ({})", p.pool_id, p.pool_name, p.mod_name, p.mod_version, p.pool_query);
    say!("parameters: {}", p.params_json);
    say!("tasks: {} ({} failed)", stats.tasks, stats.errors);
    if let Value::Object(fields) = &module {
        for (key, value) in fields {
            say!("{key}: {value}");
        }
    }
    ExitCode::SUCCESS
}
