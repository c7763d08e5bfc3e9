//! `chimaera`: one command for operating a node's runtime. Its subcommands
//! run the same code as the guide's tools (`chimaera_util::cmd`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chimaera_util::cmd::cluster::ClusterCommand;
use chimaera_util::cmd::compose::ComposeArgs;
use chimaera_util::cmd::module::ModuleCommand;
use chimaera_util::cmd::monitor::MonitorArgs;
use chimaera_util::cmd::pool::PoolCommand;
use chimaera_util::cmd::start::StartArgs;
use chimaera_util::cmd::status::StatusArgs;
use chimaera_util::cmd::stop::{StopArgs, Stopped};
use chimaera_util::{RuntimeFlags, fail, parse_seconds, say};
use clap::{CommandFactory as _, Parser, Subcommand};

// As in chimaera_start_runtime: this binary may run the runtime itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOOL: &str = "chimaera";

/// Operate this node's Chimaera runtime: start and stop it, add and remove
/// pools, see what every pool and worker is doing, upgrade a module live.
///
/// The runtime is found as chimaera_start_runtime finds its configuration
/// (--config, then CHI_SERVER_CONF, then WRP_RUNTIME_CONF, then defaults),
/// or by --port; CHI_NODE_ADDRESS names the node when several share a
/// machine. Every subcommand has --help, and those that print take --json.
///
/// Exit codes: 0 done; 1 the runtime could not do it or is not running;
/// 2 bad configuration or usage.
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  chimaera runtime start --background      start, return once it serves
  chimaera pool list                       every pool, its module version and nodes
  chimaera pool stats 300.0 --json         one pool's tasks, errors, bdev figures
  chimaera compose pools.yaml              add a file's pools (kept across restarts)
  chimaera compose pools.yaml --destroy    remove them again
  chimaera module upgrade chimaera_bdev /opt/new/libchimaera_bdev.so
  chimaera monitor -i 2                    live view; --once --json for scripts
  chimaera cluster reload --all            take in nodes added to the hostfile
  chimaera cluster leave                   leave the cluster cleanly and stop
  chimaera runtime restart                 stop, start, every pool back
  chimaera completions bash > /etc/bash_completion.d/chimaera";

#[derive(Debug, Subcommand)]
enum Command {
    /// Start, stop, restart this node's runtime, or ask whether it serves.
    #[command(subcommand)]
    Runtime(RuntimeCommand),
    /// Create the pools of a file's `compose:` section in the running
    /// runtime (or destroy them with --destroy), one line per pool.
    Compose(ComposeArgs),
    /// List pools, show one's figures, destroy one.
    #[command(subcommand)]
    Pool(PoolCommand),
    /// List the loaded modules, or upgrade one while it serves.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// The nodes this one knows; take in nodes added to the hostfile;
    /// leave the cluster.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// A live view of workers, pools and nodes.
    Monitor(MonitorArgs),
    /// Run chimaera_bench (beside this binary) with these arguments.
    Bench {
        /// Arguments for chimaera_bench (`chimaera bench -- --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum RuntimeCommand {
    /// Run the runtime: in the foreground (as chimaera_start_runtime), or
    /// with --background return once it serves.
    Start {
        #[command(flatten)]
        start: StartArgs,
        /// Start it in the background and return once it is ready.
        #[arg(long, short = 'b')]
        background: bool,
        /// With --background: seconds to wait for it to become ready.
        #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = parse_seconds)]
        ready_timeout: Duration,
        /// With --background: print one JSON object (ready line, pid).
        #[arg(long, requires = "background")]
        json: bool,
    },
    /// Stop the runtime and wait until it has stopped (as
    /// chimaera_stop_runtime).
    Stop(StopArgs),
    /// Stop the runtime if it runs, then start it in the background: its
    /// compose section, and every pool created at runtime, come back.
    Restart {
        #[command(flatten)]
        start: StartArgs,
        /// Seconds the stop, and then the start, may each take.
        #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = parse_seconds)]
        timeout: Duration,
        /// Print one JSON object (whether one was stopped, ready line, pid).
        #[arg(long)]
        json: bool,
    },
    /// Whether the runtime serves, one line per node (as chimaera_status).
    Status(StatusArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Runtime(RuntimeCommand::Start { start, background: false, .. }) => {
            chimaera_util::cmd::start::run_foreground(&start, TOOL)
        }
        Command::Runtime(RuntimeCommand::Start { start, background: true, ready_timeout, json }) => {
            let exe = match std::env::current_exe() {
                Ok(exe) => exe,
                Err(e) => return fail(TOOL, 1, &format!("cannot find this program's path: {e}")),
            };
            match chimaera_util::cmd::start::start_background(&start, &exe, ready_timeout, TOOL) {
                Ok(started) => {
                    started.print(json, serde_json::json!({}));
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
        Command::Runtime(RuntimeCommand::Stop(stop)) => chimaera_util::cmd::stop::run(&stop, TOOL),
        Command::Runtime(RuntimeCommand::Restart { start, timeout, json }) => restart(&start, timeout, json),
        Command::Runtime(RuntimeCommand::Status(status)) => chimaera_util::cmd::status::run(&status, TOOL),
        Command::Compose(compose) => chimaera_util::cmd::compose::run(&compose, TOOL),
        Command::Pool(pool) => chimaera_util::cmd::pool::run(&pool, TOOL),
        Command::Module(module) => chimaera_util::cmd::module::run(&module, TOOL),
        Command::Cluster(cluster) => chimaera_util::cmd::cluster::run(&cluster, TOOL),
        Command::Monitor(monitor) => chimaera_util::cmd::monitor::run(&monitor, TOOL),
        Command::Bench { args } => bench(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), TOOL, &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

fn restart(start: &StartArgs, timeout: Duration, json: bool) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return fail(TOOL, 1, &format!("cannot find this program's path: {e}")),
    };
    if let Some(address) = &start.node_address {
        // SAFETY: nothing else runs yet (no thread has been started), and
        // the stop finds the node's runtime through this variable.
        unsafe { std::env::set_var(chimaera::cluster::NODE_ADDRESS_VAR, address) };
    }
    let stop = StopArgs {
        runtime: RuntimeFlags { config: start.config.clone(), port: None },
        timeout,
        wait: Duration::ZERO,
        json,
    };
    let stopped = match chimaera_util::cmd::stop::stop(&stop, TOOL) {
        Ok(Stopped::Stopped(port)) => {
            if !json {
                say!("chimaera runtime on port {port} stopped");
            }
            true
        }
        Ok(Stopped::NotRunning(e)) => {
            if !json {
                say!("{e}; starting it");
            }
            false
        }
        Err(code) => return code,
    };
    match chimaera_util::cmd::start::start_background(start, &exe, timeout, TOOL) {
        Ok(started) => {
            started.print(json, serde_json::json!({ "stopped": stopped }));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn bench(args: &[String]) -> ExitCode {
    let bench: PathBuf = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("chimaera_bench"),
        Err(e) => return fail(TOOL, 1, &format!("cannot find this program's path: {e}")),
    };
    use std::os::unix::process::CommandExt as _;
    // Replaces this process: the benchmark's output, exit code and signals
    // are its own.
    let e = std::process::Command::new(&bench).args(args).exec();
    fail(TOOL, 1, &format!("cannot run {}: {e}", bench.display()))
}
