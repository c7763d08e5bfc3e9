//! `chimaera monitor`: a live view of this node's runtime, refreshed every
//! `-i` seconds: per worker (tasks per second, queue depth, the task it runs
//! and for how long, the share of time it spun and slept), per pool (tasks
//! and errors per second, the module's own figures as rates: a bdev's
//! operations and MB/s, its latencies) and per node (state, last heard).
//!
//! Each refresh is one statistics call plus one per pool, through the admin
//! pool like any client's task: a view every second costs the runtime a few
//! microseconds of one worker (`docs/benchmarks.md`, "Monitor").

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chimaera_client::Client;
use chimod_sdk::admin::{PoolStats, RuntimeStats};
use serde_json::{Value, json};

use super::ClientFlags;
use crate::{fail, parse_seconds, say, table};

/// How to watch.
#[derive(Debug, Clone, clap::Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub client: ClientFlags,

    /// Seconds between refreshes.
    #[arg(short = 'i', long, default_value = "1", value_name = "SECONDS", value_parser = parse_interval)]
    pub interval: Duration,

    /// Print one view (rates over one interval) and exit.
    #[arg(long)]
    pub once: bool,

    /// One JSON object per refresh instead of tables, for scripts.
    #[arg(long)]
    pub json: bool,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = parse_seconds(text)?;
    if d < Duration::from_millis(10) {
        return Err(format!("`{text}` is too short: give at least 0.01 seconds"));
    }
    Ok(d)
}

/// One look at the runtime.
#[derive(Debug, Clone)]
pub struct Sample {
    at: Instant,
    stats: RuntimeStats,
    pools: Vec<PoolStats>,
}

impl Sample {
    /// Takes one: the runtime's statistics and every pool's.
    pub fn take(client: &Client) -> Result<Sample, chimaera_client::ClientError> {
        let admin = client.admin();
        let stats = admin.stats()?;
        let mut pools = Vec::new();
        for pool in admin.list_pools()? {
            // A pool destroyed between the two calls is simply not shown.
            if let Ok(s) = admin.pool_stats(pool.pool_id) {
                pools.push(s);
            }
        }
        Ok(Sample { at: Instant::now(), stats, pools })
    }
}

/// Watches until the runtime goes away (exit 1) or, with `--once`, for one
/// interval.
pub fn run(args: &MonitorArgs, tool: &str) -> ExitCode {
    let client = match args.client.attach() {
        Ok(client) => client,
        Err(code) => return fail(tool, code.0, &code.1),
    };
    let mut previous = match Sample::take(&client) {
        Ok(sample) => sample,
        Err(e) => return fail(tool, 1, &e),
    };
    let clear = !args.once && !args.json && std::io::stdout().is_terminal();
    loop {
        std::thread::sleep(args.interval);
        let sample = match Sample::take(&client) {
            Ok(sample) => sample,
            Err(e) => return fail(tool, 1, &e),
        };
        let view = view(&previous, &sample);
        if args.json {
            say!("{view}");
        } else {
            if clear {
                say!("\x1b[H\x1b[2J");
            }
            for line in render(&view, args.interval) {
                say!("{line}");
            }
        }
        if args.once {
            return ExitCode::SUCCESS;
        }
        previous = sample;
    }
}

/// Rates between two samples, as one JSON object (what `--json` prints and
/// the tables show).
pub fn view(before: &Sample, now: &Sample) -> Value {
    let secs = now.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let rate = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
    let share = |a: u64, b: u64| (b.saturating_sub(a) as f64 / 1e6 / secs).min(1.0);
    let workers: Vec<Value> = now
        .stats
        .workers
        .iter()
        .map(|w| {
            let old = before.stats.workers.iter().find(|o| o.lane == w.lane);
            let (done, spin, sleep) =
                old.map_or((w.tasks_done, w.spin_us, w.sleep_us), |o| (o.tasks_done, o.spin_us, o.sleep_us));
            json!({
                "lane": w.lane,
                "kind": w.kind,
                "tasks_per_s": rate(done, w.tasks_done),
                "queued": w.queued,
                "suspended": w.suspended,
                "running": w.running.map(|r| json!({
                    "pool_id": r.pool_id.to_string(), "method": r.method, "running_ms": r.running_ms,
                })),
                "spin_share": share(spin, w.spin_us),
                "sleep_share": share(sleep, w.sleep_us),
            })
        })
        .collect();
    let pools: Vec<Value> = now
        .pools
        .iter()
        .map(|p| {
            let old = before.pools.iter().find(|o| o.pool.pool_id == p.pool.pool_id);
            let module: Value = serde_json::from_str(&p.module_json).unwrap_or(Value::Null);
            let old_module: Value =
                old.map_or(Value::Null, |o| serde_json::from_str(&o.module_json).unwrap_or(Value::Null));
            let (tasks, errors) = old.map_or((p.tasks, p.errors), |o| (o.tasks, o.errors));
            json!({
                "pool_id": p.pool.pool_id.to_string(),
                "pool_name": p.pool.pool_name,
                "mod_name": p.pool.mod_name,
                "mod_version": p.pool.mod_version,
                "tasks_per_s": rate(tasks, p.tasks),
                "errors_per_s": rate(errors, p.errors),
                "errors": p.errors,
                "module": module_rates(&old_module, &module, secs),
            })
        })
        .collect();
    let nodes: Vec<Value> = now
        .stats
        .nodes
        .iter()
        .map(|n| json!({ "node_id": n.node_id, "address": n.address, "state": n.state, "last_heard_ms": n.last_heard_ms }))
        .collect();
    json!({
        "node_id": now.stats.node_id,
        "uptime_ms": now.stats.uptime_ms,
        "interval_s": secs,
        "slots_free": now.stats.slots_free,
        "slots_total": now.stats.slots_total,
        "workers": workers,
        "pools": pools,
        "nodes": nodes,
    })
}

/// A module's figures as a flat object: counters (`count`, `bytes`, and
/// anything ending in `_count` or `_bytes`) as rates per second, latencies
/// (`..._us`) and other numbers as they are.
fn module_rates(before: &Value, now: &Value, secs: f64) -> Value {
    let mut out = serde_json::Map::new();
    flatten("", now, &mut |path, value| {
        let Some(n) = value.as_f64() else { return };
        let leaf = path.rsplit('.').next().unwrap_or(path);
        if leaf == "count" || leaf == "bytes" || leaf.ends_with("_count") || leaf.ends_with("_bytes") {
            let old = lookup(before, path).and_then(Value::as_f64).unwrap_or(n);
            out.insert(format!("{path}_per_s"), json!(((n - old) / secs).max(0.0)));
        } else {
            out.insert(path.to_owned(), value.clone());
        }
    });
    Value::Object(out)
}

fn flatten(prefix: &str, value: &Value, f: &mut impl FnMut(&str, &Value)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, v, f);
            }
        }
        other => f(prefix, other),
    }
}

fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// The view as tables, for people.
pub fn render(view: &Value, interval: Duration) -> Vec<String> {
    let pct = |v: &Value| format!("{:.0}%", v.as_f64().unwrap_or(0.0) * 100.0);
    let num = |v: &Value| format!("{:.0}", v.as_f64().unwrap_or(0.0));
    let mut lines = vec![format!(
        "chimaera monitor: node {}, up {:.1}s, {} of {} task slots free, every {:?}",
        view["node_id"],
        view["uptime_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
        view["slots_free"],
        view["slots_total"],
        interval
    )];
    let mut rows = vec![
        ["WORKER", "KIND", "TASKS/S", "QUEUED", "SUSPENDED", "RUNNING", "SPIN", "SLEEP"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for w in view["workers"].as_array().into_iter().flatten() {
        let running = match &w["running"] {
            Value::Object(r) => format!(
                "{} m{} {:.1}s",
                r["pool_id"].as_str().unwrap_or("?"),
                r["method"],
                r["running_ms"].as_u64().unwrap_or(0) as f64 / 1000.0
            ),
            _ => "-".to_owned(),
        };
        rows.push(vec![
            w["lane"].to_string(),
            w["kind"].as_str().unwrap_or("").to_owned(),
            num(&w["tasks_per_s"]),
            w["queued"].to_string(),
            w["suspended"].to_string(),
            running,
            pct(&w["spin_share"]),
            pct(&w["sleep_share"]),
        ]);
    }
    lines.push(String::new());
    lines.extend(table(&rows));
    let mut rows = vec![
        ["POOL", "NAME", "MODULE", "VERSION", "TASKS/S", "ERRORS/S", "MODULE FIGURES"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for p in view["pools"].as_array().into_iter().flatten() {
        let figures = module_figures(&p["module"]);
        rows.push(vec![
            p["pool_id"].as_str().unwrap_or("").to_owned(),
            p["pool_name"].as_str().unwrap_or("").to_owned(),
            p["mod_name"].as_str().unwrap_or("").to_owned(),
            p["mod_version"].as_str().unwrap_or("").to_owned(),
            num(&p["tasks_per_s"]),
            num(&p["errors_per_s"]),
            if figures.is_empty() { "-".to_owned() } else { figures.join(", ") },
        ]);
    }
    lines.push(String::new());
    lines.extend(table(&rows));
    let nodes = view["nodes"].as_array().cloned().unwrap_or_default();
    if !nodes.is_empty() {
        let mut rows = vec![["NODE", "ADDRESS", "STATE", "LAST HEARD"].map(str::to_owned).to_vec()];
        for n in &nodes {
            rows.push(vec![
                n["node_id"].to_string(),
                n["address"].as_str().unwrap_or("").to_owned(),
                n["state"].as_str().unwrap_or("").to_owned(),
                n["last_heard_ms"].as_u64().map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms ago")),
            ]);
        }
        lines.push(String::new());
        lines.extend(table(&rows));
    }
    lines
}

/// A module's rates and latencies in a few words, grouped by what they
/// count: `writes 120/s 15.7 MB/s mean 12us p99 40us`.
fn module_figures(module: &Value) -> Vec<String> {
    let mut groups: Vec<(String, Vec<(u8, String)>)> = Vec::new();
    for (key, value) in module.as_object().into_iter().flatten() {
        let (group, leaf) = key.rsplit_once('.').unwrap_or(("", key));
        let v = value.as_f64().unwrap_or(0.0);
        // Operations, then bandwidth, then latencies.
        let word = match leaf {
            "count_per_s" => (0, format!("{v:.0}/s")),
            "bytes_per_s" => (1, format!("{:.1} MB/s", v / 1e6)),
            l if l.ends_with("_us") => (2, format!("{} {v:.0}us", l.trim_end_matches("_us"))),
            _ => continue,
        };
        match groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, words)) => words.push(word),
            None => groups.push((group.to_owned(), vec![word])),
        }
    }
    groups
        .into_iter()
        .map(|(g, mut words)| {
            words.sort_by_key(|(rank, _)| *rank);
            let words: Vec<String> = words.into_iter().map(|(_, w)| w).collect();
            format!("{g} {}", words.join(" ")).trim().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_counters_become_rates_and_latencies_stay() {
        let before = json!({"writes": {"count": 10, "bytes": 1000, "mean_us": 5.0}, "bdev_type": "ram"});
        let now = json!({"writes": {"count": 30, "bytes": 5000, "mean_us": 8.0}, "bdev_type": "ram"});
        let rates = module_rates(&before, &now, 2.0);
        assert_eq!(rates["writes.count_per_s"], json!(10.0));
        assert_eq!(rates["writes.bytes_per_s"], json!(2000.0));
        assert_eq!(rates["writes.mean_us"], json!(8.0));
        assert!(rates.get("bdev_type").is_none());
        assert_eq!(module_figures(&rates), ["writes 10/s 0.0 MB/s mean 8us"]);
    }
}
