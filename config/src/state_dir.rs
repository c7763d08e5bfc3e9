//! Where a runtime keeps what must outlive it: the record of the pools
//! created and destroyed while it ran (`runtime.state_dir`).
//!
//! Precedence, highest first: `CHI_STATE_DIR`, the key, the default. Set to
//! an empty string (either), nothing is kept. The default is a directory of
//! the user's own: `$XDG_STATE_HOME/chimaera`, else
//! `$HOME/.local/state/chimaera`, else `/var/tmp/chimaera-<uid>` (which,
//! unlike `/tmp`, survives a reboot). Each runtime identity
//! (`chi_<uid>_<port>[_<node>]`) has its own directory under it, so several
//! runtimes of one machine never share a record.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The variable that overrides `runtime.state_dir`.
pub const STATE_DIR_ENV: &str = "CHI_STATE_DIR";

/// What `runtime.state_dir` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateDir {
    /// The key is absent: the per-user default.
    #[default]
    Default,
    /// `""`: keep nothing; pools created at runtime end with the runtime.
    Off,
    /// A directory of the operator's choice.
    At(PathBuf),
}

impl StateDir {
    /// Reads the key's text: empty (or blank) is [`StateDir::Off`].
    ///
    /// ```
    /// use chimaera_config::StateDir;
    /// assert_eq!(StateDir::from_text(" "), StateDir::Off);
    /// assert_eq!(StateDir::from_text("/var/lib/chi"), StateDir::At("/var/lib/chi".into()));
    /// ```
    pub fn from_text(text: &str) -> StateDir {
        if text.trim().is_empty() { StateDir::Off } else { StateDir::At(PathBuf::from(text)) }
    }

    /// The directory of runtime `identity`, with `CHI_STATE_DIR` and the
    /// defaults applied; `None` when nothing is to be kept.
    pub fn resolve(&self, identity: &str) -> Option<PathBuf> {
        self.resolve_with(identity, |var| std::env::var_os(var), rustix::process::getuid().as_raw())
    }

    /// [`StateDir::resolve`] with the environment and uid given.
    ///
    /// ```
    /// use chimaera_config::StateDir;
    /// let env = |var: &str| (var == "HOME").then(|| "/home/ops".into());
    /// assert_eq!(
    ///     StateDir::Default.resolve_with("chi_1000_5555", env, 1000),
    ///     Some("/home/ops/.local/state/chimaera/chi_1000_5555".into())
    /// );
    /// let off = |var: &str| (var == "CHI_STATE_DIR").then(|| "".into());
    /// assert_eq!(StateDir::At("/srv".into()).resolve_with("chi_0_5555", off, 0), None);
    /// ```
    pub fn resolve_with(
        &self,
        identity: &str,
        env: impl Fn(&str) -> Option<OsString>,
        uid: u32,
    ) -> Option<PathBuf> {
        let chosen = match env(STATE_DIR_ENV) {
            Some(value) => StateDir::from_text(&value.to_string_lossy()),
            None => self.clone(),
        };
        let base = match chosen {
            StateDir::Off => return None,
            StateDir::At(dir) => dir,
            StateDir::Default => default_base(&env, uid),
        };
        Some(base.join(identity))
    }
}

fn default_base(env: &impl Fn(&str) -> Option<OsString>, uid: u32) -> PathBuf {
    let set = |var: &str| env(var).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(state) = set("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        return state.join("chimaera");
    }
    if let Some(home) = set("HOME").filter(|p| p.is_absolute() && p != Path::new("/")) {
        return home.join(".local/state/chimaera");
    }
    PathBuf::from(format!("/var/tmp/chimaera-{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_state_home_comes_before_home_and_a_relative_one_is_ignored() {
        let env = |var: &str| match var {
            "XDG_STATE_HOME" => Some("/x/state".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        };
        assert_eq!(
            StateDir::Default.resolve_with("chi_1_2", env, 1),
            Some("/x/state/chimaera/chi_1_2".into())
        );
        let relative = |var: &str| match var {
            "XDG_STATE_HOME" => Some("state".into()),
            _ => None,
        };
        assert_eq!(
            StateDir::Default.resolve_with("chi_1_2", relative, 7),
            Some("/var/tmp/chimaera-7/chi_1_2".into())
        );
    }

    #[test]
    fn the_variable_overrides_the_key() {
        let env = |var: &str| (var == STATE_DIR_ENV).then(|| "/srv/chi".into());
        assert_eq!(StateDir::Off.resolve_with("chi_0_1", env, 0), Some("/srv/chi/chi_0_1".into()));
        assert_eq!(StateDir::At("/a".into()).resolve_with("chi_0_1", |_| None, 0), Some("/a/chi_0_1".into()));
        assert_eq!(StateDir::Off.resolve_with("chi_0_1", |_| None, 0), None);
    }
}
