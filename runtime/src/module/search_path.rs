//! Where modules are looked for, in order:
//!
//! 1. the directories in `CHI_REPO_PATH` (colon-separated, as the original
//!    runtime names it);
//! 2. `runtime.module_path` from the configuration;
//! 3. the directory of the runtime binary itself (where a build or an
//!    install puts the shipped modules);
//! 4. the directories in `LD_LIBRARY_PATH`.
//!
//! The first directory holding `lib<mod_name>.so` wins.

use std::env;
use std::path::{Path, PathBuf};

use super::ModuleError;

/// The environment variable that lists module directories first.
pub const MODULE_PATH_ENV: &str = "CHI_REPO_PATH";

/// An ordered list of directories to find modules in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSearchPath {
    dirs: Vec<PathBuf>,
}

impl ModuleSearchPath {
    /// The documented search path for this process, with `configured` from
    /// `runtime.module_path`.
    pub fn for_process(configured: &[PathBuf]) -> Self {
        let mut dirs = split(env::var_os(MODULE_PATH_ENV));
        dirs.extend(configured.iter().cloned());
        if let Some(exe_dir) = env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_owned)) {
            dirs.push(exe_dir);
        }
        dirs.extend(split(env::var_os("LD_LIBRARY_PATH")));
        Self::new(dirs)
    }

    /// Exactly these directories (duplicates after the first are dropped).
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        ModuleSearchPath { dirs: unique }
    }

    /// The directories, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The library file of `mod_name`.
    pub fn find(&self, mod_name: &str) -> Result<PathBuf, ModuleError> {
        let file = library_file(mod_name);
        self.dirs.iter().map(|dir| dir.join(&file)).find(|path| path.is_file()).ok_or_else(|| {
            ModuleError::NotFound { mod_name: mod_name.to_owned(), file, searched: self.dirs.clone() }
        })
    }
}

/// `lib<mod_name>.so`.
pub fn library_file(mod_name: &str) -> String {
    format!("lib{mod_name}.so")
}

fn split(value: Option<std::ffi::OsString>) -> Vec<PathBuf> {
    value.map(|v| env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_directory_with_the_library_wins() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("libm1.so"), b"").unwrap();
        std::fs::write(a.path().join("libm2.so"), b"").unwrap();
        std::fs::write(b.path().join("libm2.so"), b"").unwrap();
        let path = ModuleSearchPath::new(vec![a.path().into(), b.path().into()]);
        assert_eq!(path.find("m1").unwrap(), b.path().join("libm1.so"));
        assert_eq!(path.find("m2").unwrap(), a.path().join("libm2.so"));
    }

    #[test]
    fn not_found_lists_every_directory() {
        let path = ModuleSearchPath::new(vec!["/x".into(), "/y".into(), "/x".into()]);
        let err = path.find("nope").unwrap_err().to_string();
        assert_eq!(
            err,
            "module `nope` not found: no libnope.so in /x, /y; add its directory to CHI_REPO_PATH or runtime.module_path"
        );
    }
}
