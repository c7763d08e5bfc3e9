//! Builds the workspace's binaries and module libraries once per test binary.
//!
//! `cargo test` builds test targets, not the other packages' binaries or
//! `cdylib`s, so the harness runs `cargo build --workspace` into the same
//! target directory and profile (cargo releases its lock while tests run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the built binaries and module libraries are.
#[derive(Debug)]
pub struct Artifacts {
    dir: PathBuf,
    target_dir: PathBuf,
    profile: String,
}

impl Artifacts {
    /// A binary of `util/`, e.g. `chimaera_start_runtime`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The directory holding the binaries and `lib<mod_name>.so` files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cargo target directory.
    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// Runs `cargo <args>` with this build's profile, panicking with its
    /// output on failure.
    pub fn cargo(&self, args: &[&str], target_dir: &Path, cwd: &Path) {
        cargo(args, &self.profile, target_dir, cwd);
    }
}

/// Builds once, then returns the same artifacts to every caller.
pub fn artifacts() -> &'static Artifacts {
    static BUILT: OnceLock<Artifacts> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> Artifacts {
    // This test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>").to_owned();
    let target_dir = profile_dir.parent().expect("<target>").to_owned();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => panic!("unexpected target layout: {}", exe.display()),
    };
    cargo(&["build", "--workspace"], &profile, &target_dir, workspace_root());
    Artifacts { dir: profile_dir, target_dir, profile }
}

/// The repository root.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root")
}

fn cargo(args: &[&str], profile: &str, target_dir: &Path, cwd: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .args(["--profile", profile])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(cwd)
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "cargo {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
}
