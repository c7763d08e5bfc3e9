//! Which configuration file is loaded, and why.
//!
//! Precedence, highest first: the `--config PATH` flag of
//! `chimaera_start_runtime`; `CHI_SERVER_CONF`; `WRP_RUNTIME_CONF`; the
//! built-in defaults. A variable set to an empty string counts as unset. A
//! flag or variable that names a file that cannot be read is an error, never
//! a silent fall-back to defaults. No other `CHI_*` variable is read.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::model::Parsed;

/// The variables that may name the configuration file, in precedence order.
pub const CONFIG_ENV_VARS: [&str; 2] = ["CHI_SERVER_CONF", "WRP_RUNTIME_CONF"];

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A `--config` flag.
    Flag(PathBuf),
    /// One of [`CONFIG_ENV_VARS`].
    Env {
        /// The variable's name.
        var: &'static str,
        /// Its value.
        path: PathBuf,
    },
    /// Nothing named a file.
    Defaults,
}

impl ConfigSource {
    /// Applies the precedence to a flag and an environment lookup.
    ///
    /// ```
    /// use chimaera_config::ConfigSource;
    /// let env = |var: &str| (var == "WRP_RUNTIME_CONF").then(|| "/etc/w.yaml".into());
    /// assert_eq!(
    ///     ConfigSource::resolve(None, env),
    ///     ConfigSource::Env { var: "WRP_RUNTIME_CONF", path: "/etc/w.yaml".into() }
    /// );
    /// ```
    pub fn resolve(flag: Option<&Path>, env: impl Fn(&str) -> Option<OsString>) -> Self {
        if let Some(path) = flag {
            return ConfigSource::Flag(path.to_owned());
        }
        CONFIG_ENV_VARS
            .iter()
            .find_map(|var| {
                env(var).filter(|v| !v.is_empty()).map(|v| ConfigSource::Env { var, path: PathBuf::from(v) })
            })
            .unwrap_or(ConfigSource::Defaults)
    }

    /// Resolves against this process's environment.
    pub fn from_env(flag: Option<&Path>) -> Self {
        Self::resolve(flag, |var| std::env::var_os(var))
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Flag(path) | ConfigSource::Env { path, .. } => Some(path),
            ConfigSource::Defaults => None,
        }
    }

    /// Reads and parses the file this source names, or returns the defaults.
    pub fn load(&self) -> Result<Parsed, ConfigError> {
        let Some(path) = self.path() else {
            return Ok(Parsed { config: Default::default(), warnings: Vec::new(), port_given: false });
        };
        self.load_file(path)
    }

    /// What named the file, for messages.
    fn origin(&self) -> String {
        match self {
            ConfigSource::Flag(_) => "--config".to_owned(),
            ConfigSource::Env { var, .. } => (*var).to_owned(),
            ConfigSource::Defaults => "the built-in defaults".to_owned(),
        }
    }

    #[cfg(feature = "yaml")]
    fn load_file(&self, path: &Path) -> Result<Parsed, ConfigError> {
        let text = super::read_small_text(path, super::MAX_CONFIG_FILE).map_err(|source| {
            ConfigError::Unreadable { origin: self.origin(), path: path.to_owned(), source }
        })?;
        super::parse::parse_config(&text, &path.display().to_string())
    }

    #[cfg(not(feature = "yaml"))]
    fn load_file(&self, path: &Path) -> Result<Parsed, ConfigError> {
        Err(ConfigError::NoYaml { origin: self.origin(), path: path.to_owned() })
    }
}

/// Says which file was loaded and why, for the first log line.
impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Flag(path) => write!(f, "config file {} (from --config)", path.display()),
            ConfigSource::Env { var, path } => write!(f, "config file {} (from {var})", path.display()),
            ConfigSource::Defaults => write!(
                f,
                "built-in defaults (neither {} nor {} is set)",
                CONFIG_ENV_VARS[0], CONFIG_ENV_VARS[1]
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |var| pairs.iter().find(|(k, _)| *k == var).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn chi_server_conf_wins() {
        let both = [("CHI_SERVER_CONF", "/a.yaml"), ("WRP_RUNTIME_CONF", "/b.yaml")];
        assert_eq!(
            ConfigSource::resolve(None, env(&both)),
            ConfigSource::Env { var: "CHI_SERVER_CONF", path: "/a.yaml".into() }
        );
    }

    #[test]
    fn wrp_runtime_conf_is_the_fallback() {
        let only = [("WRP_RUNTIME_CONF", "/b.yaml"), ("CHI_SERVER_CONF", "")];
        assert_eq!(
            ConfigSource::resolve(None, env(&only)),
            ConfigSource::Env { var: "WRP_RUNTIME_CONF", path: "/b.yaml".into() }
        );
    }

    #[test]
    fn neither_means_defaults_and_flag_beats_both() {
        assert_eq!(ConfigSource::resolve(None, env(&[])), ConfigSource::Defaults);
        let both = [("CHI_SERVER_CONF", "/a.yaml")];
        assert_eq!(
            ConfigSource::resolve(Some(Path::new("/c.yaml")), env(&both)),
            ConfigSource::Flag("/c.yaml".into())
        );
    }

    #[test]
    #[cfg(not(feature = "yaml"))]
    fn without_yaml_a_named_file_is_an_error_not_the_defaults() {
        let named = [("CHI_SERVER_CONF", "/etc/chimaera.yaml")];
        let err = ConfigSource::resolve(None, env(&named)).load().unwrap_err().to_string();
        assert!(err.starts_with("CHI_SERVER_CONF names /etc/chimaera.yaml, but this program"), "{err}");
        assert!(ConfigSource::resolve(None, env(&[])).load().is_ok());
    }

    #[test]
    fn individual_chi_variables_are_not_read() {
        let stray = [("CHI_SCHED_WORKERS", "9"), ("CHI_ZMQ_PORT", "1")];
        let loaded = ConfigSource::resolve(None, env(&stray)).load().unwrap();
        assert_eq!(loaded.config, Default::default());
    }

    #[test]
    #[cfg(feature = "yaml")]
    fn a_set_variable_naming_a_missing_file_is_an_error() {
        let missing = [("CHI_SERVER_CONF", "/nonexistent/chimaera.yaml")];
        let err = ConfigSource::resolve(None, env(&missing)).load().unwrap_err().to_string();
        assert!(err.starts_with("CHI_SERVER_CONF names /nonexistent/chimaera.yaml"), "{err}");
    }
}
