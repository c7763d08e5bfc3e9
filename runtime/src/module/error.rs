//! Why a module could not be loaded; every variant names the module or file.

use std::path::PathBuf;

/// A module load failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModuleError {
    /// No `lib<mod_name>.so` in any directory of the search path.
    #[error(
        "module `{mod_name}` not found: no {file} in {searched}; add its directory to CHI_REPO_PATH or runtime.module_path",
        searched = list(searched)
    )]
    NotFound {
        /// The module asked for.
        mod_name: String,
        /// The file name looked for.
        file: String,
        /// Every directory searched, in order.
        searched: Vec<PathBuf>,
    },
    /// The dynamic loader refused the file.
    #[error("cannot load {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The file is not a whole shared library of this machine (checked
    /// before the loader maps it: a file cut short would kill the runtime).
    #[error("cannot load {path}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A shared library, but not a Chimaera module.
    #[error("{path} is not a Chimaera module: {reason}")]
    NotAModule {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// Built against an SDK whose ABI differs from this runtime's.
    #[error(
        "{path} was built with chimod-sdk {module_sdk} (ABI {module_abi}), but this runtime uses chimod-sdk {host_sdk} (ABI {host_abi}); rebuild the module against chimod-sdk {host_sdk}"
    )]
    Incompatible {
        /// The file.
        path: PathBuf,
        /// The module's SDK version.
        module_sdk: String,
        /// The module's ABI version.
        module_abi: u32,
        /// This runtime's SDK version.
        host_sdk: &'static str,
        /// This runtime's ABI version.
        host_abi: u32,
    },
    /// Same ABI version, but the boundary types differ in layout: built
    /// against a modified or mismatched SDK.
    #[error(
        "{path} claims ABI {abi} but its boundary types differ from this runtime's (layout hash {module_hash:#x}, expected {host_hash:#x}); rebuild the module against chimod-sdk {host_sdk}"
    )]
    LayoutMismatch {
        /// The file.
        path: PathBuf,
        /// The shared ABI version.
        abi: u32,
        /// The module's layout hash.
        module_hash: u64,
        /// This runtime's layout hash.
        host_hash: u64,
        /// This runtime's SDK version.
        host_sdk: &'static str,
    },
}

fn list(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "(no directories)".to_owned();
    }
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
}
