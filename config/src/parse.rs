//! YAML text to [`RuntimeConfig`]: parse, apply defaults and precedence,
//! validate, and collect warnings (which the caller logs once logging is up,
//! since the logging settings come from this same file).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chimod_sdk::{PoolId, Size};

use super::bounds;
use super::error::ConfigError;
use super::file::{FileConfig, FileRuntime, FileWorkers};
use super::keys::unknown_key_warning;
use super::model::{
    LoggingConfig, MemoryConfig, NetworkingConfig, Parsed, RuntimeConfig, RuntimeSection, WorkersConfig,
};

/// Parses a whole configuration file's text. `file` names it in messages.
pub fn parse_config(text: &str, file: &str) -> Result<Parsed, ConfigError> {
    let mut warnings = Vec::new();
    let raw = deserialize(text, file, &mut warnings)?;
    if raw.is_none() {
        // Almost always a mistake (a file truncated, or the wrong one
        // named), but a valid YAML document: said, not refused.
        warnings.push(format!(
            "{file}: the file holds no settings (it is empty or only comments); using the built-in defaults"
        ));
    }
    let raw = raw.unwrap_or_default();
    let port_given = raw.networking.as_ref().is_some_and(|n| n.port.is_some());
    let config = Merge { file, warnings: &mut warnings }.build(raw)?;
    Ok(Parsed { config, warnings, port_given })
}

fn deserialize(
    text: &str,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<FileConfig>, ConfigError> {
    let mut failed_at = None;
    let mut ignored = Vec::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        let mut on_ignored = |path: serde_ignored::Path| ignored.push(clean_path(&path.to_string()));
        let de = serde_ignored::Deserializer::new(de, &mut on_ignored);
        serde_path_to_error::deserialize::<_, Option<FileConfig>>(de).map_err(|e| {
            failed_at = Some(clean_path(&e.path().to_string()));
            e.into_inner()
        })
    });
    warnings.extend(ignored.iter().map(|path| unknown_key_warning(file, path)));
    result.map_err(|err| {
        let message = err.without_snippet().to_string();
        if let Some(duplicate) = duplicate_key(&message, failed_at.as_deref()) {
            return ConfigError::Invalid { file: file.to_owned(), key: duplicate.0, message: duplicate.1 };
        }
        let got = err
            .location()
            .and_then(|loc| scalar_at(text, loc.line(), loc.column()))
            .map(|v| format!(" (got `{v}`)"))
            .unwrap_or_default();
        match failed_at.filter(|p| !p.is_empty() && p != ".") {
            Some(path) => match missing_field(&message) {
                Some(field) => ConfigError::Invalid {
                    file: file.to_owned(),
                    key: format!("{path}.{field}"),
                    message: "required key is missing".to_owned(),
                },
                None => ConfigError::Invalid {
                    file: file.to_owned(),
                    key: path,
                    message: format!("{message}{got}"),
                },
            },
            None => ConfigError::Syntax { file: file.to_owned(), message },
        }
    })
}

/// serde_ignored and serde_path_to_error write `?` for passing through an
/// `Option`; operators know paths as they appear in the file.
fn clean_path(path: &str) -> String {
    path.split('.').filter(|seg| *seg != "?").collect::<Vec<_>>().join(".")
}

/// A repeated key, as the operator should read it: the parser's own words
/// name an option of its API. `(key path, message)`.
fn duplicate_key(message: &str, at: Option<&str>) -> Option<(String, String)> {
    let rest = message.strip_prefix("duplicate mapping key: ")?;
    let key = rest.split(',').next()?.trim();
    let place = rest.rsplit_once(" at ").map(|(_, place)| place.trim()).unwrap_or("");
    let path = match at.filter(|p| !p.is_empty() && *p != ".") {
        Some(section) => format!("{section}.{key}"),
        None => key.to_owned(),
    };
    let section =
        if at.is_some_and(|p| !p.is_empty() && p != ".") { "in this section" } else { "at the top level" };
    Some((
        path,
        format!(
            "the key `{key}` appears again {section} ({place}); each key may appear once, so merge the two into one (snippets pasted one after another each repeat their section's name)"
        ),
    ))
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.split("missing field `").nth(1)?;
    rest.split('`').next()
}

/// The scalar written at a 1-based line and column, for "got" in messages.
fn scalar_at(text: &str, line: u64, column: u64) -> Option<String> {
    let line = text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest = line.get(start..)?;
    let value = rest.split(" #").next().unwrap_or(rest).trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Turns the file's optional keys into the effective configuration.
struct Merge<'a> {
    file: &'a str,
    warnings: &'a mut Vec<String>,
}

impl Merge<'_> {
    fn build(mut self, raw: FileConfig) -> Result<RuntimeConfig, ConfigError> {
        let runtime = raw.runtime.unwrap_or_default();
        let workers = self.workers(raw.workers.unwrap_or_default(), &runtime)?;
        let memory = self.memory(raw.memory.unwrap_or_default())?;
        let networking = self.networking(raw.networking.unwrap_or_default())?;
        let logging = self.logging(raw.logging.unwrap_or_default());
        let queue_alias = raw.performance.and_then(|p| p.queue_depth);
        let runtime = self.runtime(runtime, queue_alias)?;
        let compose = raw.compose.unwrap_or_default();
        self.check_compose(&compose)?;
        Ok(RuntimeConfig { workers, memory, networking, logging, runtime, compose })
    }

    fn invalid(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { file: self.file.to_owned(), key: key.into(), message: message.into() }
    }

    /// `value` if it lies within `bound`, else an error naming the key,
    /// the range and the value.
    fn within<T: PartialOrd + std::fmt::Display + Copy>(
        &self,
        key: &str,
        value: T,
        bound: (T, T),
    ) -> Result<T, ConfigError> {
        let (min, max) = bound;
        if value < min || value > max {
            return Err(self.invalid(key, format!("must be from {min} to {max} (got `{value}`)")));
        }
        Ok(value)
    }

    /// As [`Merge::within`] for a duration, shown in `unit`s.
    fn duration_within(
        &self,
        key: &str,
        value: Duration,
        bound: (Duration, Duration),
        unit: DurationUnit,
    ) -> Result<Duration, ConfigError> {
        if value < bound.0 || value > bound.1 {
            return Err(self.invalid(
                key,
                format!(
                    "must be from {} to {} (got `{}`)",
                    unit.show(bound.0),
                    unit.show(bound.1),
                    unit.show(value)
                ),
            ));
        }
        Ok(value)
    }

    /// `workers:` is where the guide puts thread counts, so it wins over the
    /// original's `runtime:` spelling; disagreement is worth a warning.
    fn pick<T: PartialEq + std::fmt::Display + Copy>(
        &mut self,
        key: &str,
        in_workers: Option<T>,
        in_runtime: Option<T>,
    ) -> Option<T> {
        if let (Some(w), Some(r)) = (in_workers, in_runtime)
            && w != r
        {
            self.warnings.push(format!(
                "{}: workers.{key} ({w}) and runtime.{key} ({r}) disagree; using workers.{key} = {w}",
                self.file
            ));
        }
        in_workers.or(in_runtime)
    }

    fn workers(&mut self, w: FileWorkers, r: &FileRuntime) -> Result<WorkersConfig, ConfigError> {
        let d = WorkersConfig::default();
        let sched = self.pick("sched_threads", w.sched_threads, r.sched_threads).unwrap_or(d.sched_threads);
        let slow = self.pick("slow_threads", w.slow_threads, r.slow_threads).unwrap_or(d.slow_threads);
        let reaper = self
            .pick("process_reaper_threads", w.process_reaper_threads, r.process_reaper_threads)
            .unwrap_or(d.process_reaper_threads);
        Ok(WorkersConfig {
            sched_threads: self.within("workers.sched_threads", sched, bounds::SCHED_THREADS)?,
            slow_threads: self.within("workers.slow_threads", slow, bounds::SLOW_THREADS)?,
            process_reaper_threads: self.within(
                "workers.process_reaper_threads",
                reaper,
                bounds::REAPER_THREADS,
            )?,
        })
    }

    fn memory(&self, m: super::file::FileMemory) -> Result<MemoryConfig, ConfigError> {
        let d = MemoryConfig::default();
        let size = |key: &str, value: Option<Size>, default: Size| -> Result<Size, ConfigError> {
            let value = value.unwrap_or(default);
            if value.bytes() == 0 {
                return Err(self.invalid(format!("memory.{key}"), "a segment cannot be empty (got `0`)"));
            }
            Ok(value)
        };
        Ok(MemoryConfig {
            main_segment_size: size("main_segment_size", m.main_segment_size, d.main_segment_size)?,
            client_data_segment_size: size(
                "client_data_segment_size",
                m.client_data_segment_size,
                d.client_data_segment_size,
            )?,
            runtime_data_segment_size: size(
                "runtime_data_segment_size",
                m.runtime_data_segment_size,
                d.runtime_data_segment_size,
            )?,
            shm_group: match m.shm_group.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(group) => Some(group_id(group).ok_or_else(|| {
                    self.invalid("memory.shm_group", format!("no such group in /etc/group (got `{group}`)"))
                })?),
            },
        })
    }

    fn networking(&self, n: super::file::FileNetworking) -> Result<NetworkingConfig, ConfigError> {
        let d = NetworkingConfig::default();
        let port = n.port.map_or(Ok(d.port), |p| {
            u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
                self.invalid("networking.port", format!("must be a port from 1 to 65535 (got `{p}`)"))
            })
        })?;
        let poll = self.duration_within(
            "networking.wait_for_restart_poll_period",
            n.wait_for_restart_poll_period.map_or(d.wait_for_restart_poll_period, |s| s.0),
            bounds::POLL_PERIOD,
            DurationUnit::Seconds,
        )?;
        let wait = self.duration_within(
            "networking.wait_for_restart",
            n.wait_for_restart.map_or(d.wait_for_restart, |s| s.0),
            bounds::WAIT_FOR_RESTART,
            DurationUnit::Seconds,
        )?;
        let idle = self.duration_within(
            "networking.idle_connection_timeout",
            n.idle_connection_timeout.map_or(d.idle_connection_timeout, |s| s.0),
            bounds::IDLE_CONNECTION,
            DurationUnit::Seconds,
        )?;
        let client_port = match n.client_port {
            None | Some(0) => None,
            Some(p) => Some(u16::try_from(p).ok().filter(|p| *p != port).ok_or_else(|| {
                self.invalid(
                    "networking.client_port",
                    format!("must be 0 (no remote clients) or a port from 1 to 65535 other than networking.port {port} (got `{p}`)"),
                )
            })?),
        };
        let client_address = match n.client_address.as_deref().map(str::trim) {
            None | Some("") => d.client_address,
            Some(text) => text.parse().map_err(|_| {
                self.invalid(
                    "networking.client_address",
                    format!("must be an IP address such as 0.0.0.0 or 10.0.0.5 (got `{text}`)"),
                )
            })?,
        };
        Ok(NetworkingConfig {
            port,
            client_port,
            client_address,
            neighborhood_size: self.within(
                "networking.neighborhood_size",
                n.neighborhood_size.unwrap_or(d.neighborhood_size),
                bounds::NEIGHBORHOOD,
            )?,
            hostfile: n.hostfile.filter(|h| !h.trim().is_empty()).map(PathBuf::from),
            cluster_key_file: n.cluster_key_file.filter(|k| !k.trim().is_empty()).map(PathBuf::from),
            wait_for_restart: wait,
            wait_for_restart_poll_period: poll,
            idle_connection_timeout: idle,
        })
    }

    fn logging(&self, l: super::file::FileLogging) -> LoggingConfig {
        let d = LoggingConfig::default();
        LoggingConfig {
            level: l.level.unwrap_or(d.level),
            file: match l.file {
                Some(f) if f.trim().is_empty() => None,
                Some(f) => Some(PathBuf::from(f)),
                None => d.file,
            },
        }
    }

    fn runtime(&mut self, r: FileRuntime, queue_alias: Option<u32>) -> Result<RuntimeSection, ConfigError> {
        let d = RuntimeSection::default();
        if let Some(alias) = queue_alias {
            let note = match r.queue_depth {
                Some(q) if q != alias => {
                    format!("; runtime.queue_depth ({q}) takes precedence over it ({alias})")
                }
                _ => String::new(),
            };
            self.warnings.push(format!(
                "{}: performance.queue_depth is read as runtime.queue_depth; move it under `runtime:`{note}",
                self.file
            ));
        }
        let queue_depth = r.queue_depth.or(queue_alias).unwrap_or(d.queue_depth);
        let stack_size = r.stack_size.unwrap_or(d.stack_size);
        if stack_size < bounds::STACK_SIZE.0 || stack_size > bounds::STACK_SIZE.1 {
            return Err(self.invalid(
                "runtime.stack_size",
                format!(
                    "must be from {} to {} (got `{}`)",
                    bounds::STACK_SIZE.0,
                    bounds::STACK_SIZE.1,
                    stack_size.bytes()
                ),
            ));
        }
        let micros = |key: &str, value: Option<u64>, default: Duration, bound| {
            let value = value.map_or(default, Duration::from_micros);
            self.duration_within(key, value, bound, DurationUnit::Micros)
        };
        let heartbeat = self.duration_within(
            "runtime.heartbeat_interval",
            r.heartbeat_interval.map_or(d.heartbeat_interval, Duration::from_millis),
            bounds::HEARTBEAT,
            DurationUnit::Millis,
        )?;
        Ok(RuntimeSection {
            stack_size,
            queue_depth: self.within("runtime.queue_depth", queue_depth, bounds::QUEUE_DEPTH)?,
            lane_map_policy: r.lane_map_policy.unwrap_or(d.lane_map_policy),
            heartbeat_interval: heartbeat,
            first_busy_wait: micros(
                "runtime.first_busy_wait",
                r.first_busy_wait,
                d.first_busy_wait,
                bounds::BUSY_WAIT,
            )?,
            sleep_increment: micros(
                "runtime.sleep_increment",
                r.sleep_increment,
                d.sleep_increment,
                bounds::SLEEP,
            )?,
            max_sleep: micros("runtime.max_sleep", r.max_sleep, d.max_sleep, bounds::SLEEP)?,
            module_path: r.module_path.unwrap_or_default().into_iter().map(PathBuf::from).collect(),
            state_dir: r.state_dir.as_deref().map_or(crate::StateDir::Default, crate::StateDir::from_text),
        })
    }

    fn check_compose(&self, entries: &[super::compose::ComposeEntry]) -> Result<(), ConfigError> {
        let mut seen: HashMap<PoolId, usize> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            entry.check().map_err(|(key, why)| self.invalid(format!("compose[{i}].{key}"), why))?;
            if let Some(first) = seen.insert(entry.pool_id, i) {
                return Err(self.invalid(
                    format!("compose[{i}].pool_id"),
                    format!(
                        "duplicate pool id, already used by compose[{first}] ({} `{}`) (got `{}`)",
                        entries[first].mod_name, entries[first].pool_name, entry.pool_id
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// How a duration key is written in the file, for its messages.
#[derive(Debug, Clone, Copy)]
enum DurationUnit {
    Seconds,
    Millis,
    Micros,
}

impl DurationUnit {
    fn show(self, d: Duration) -> String {
        match self {
            DurationUnit::Seconds => format!("{}", d.as_secs_f64()),
            DurationUnit::Millis => format!("{}", d.as_millis()),
            DurationUnit::Micros => format!("{}", d.as_micros()),
        }
    }
}

/// A group's id: a number, or a name looked up in /etc/group.
fn group_id(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse() {
        return Some(gid);
    }
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(group)).then(|| fields.nth(1)?.parse().ok()).flatten()
    })
}
