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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let output = Command::new(cargo)
        .args(["build", "--workspace", "--profile", &profile])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(workspace)
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build --workspace failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Artifacts { dir: profile_dir }
}
