//! Module libraries the tests need beyond the workspace's own: an
//! out-of-tree module (built exactly as docs/module_dev_guide.md says), the
//! same module built against an SDK claiming another ABI version, a shared
//! library that is not a module, and a file that is not a library at all.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::artifacts::{artifacts, workspace_root};

/// `oot_module`: the out-of-tree module.
pub const OOT_MODULE: &str = "oot_module";
/// The out-of-tree module built with the `abi-mismatch` feature.
pub const MISMATCHED_MODULE: &str = "mismatched_module";
/// The out-of-tree module as its next version (0.4.0), for live upgrades;
/// its library is `liboot_module_v2.so`, the module inside `oot_module`.
pub const OOT_MODULE_V2: &str = "oot_module_v2";
/// A valid shared library without the `chimod_plugin` symbol.
pub const NOT_A_MODULE: &str = "not_a_module";
/// A text file named like a module.
pub const GARBAGE_MODULE: &str = "garbage_module";

/// The directory holding all four, built once per test binary.
pub fn fixture_modules() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> PathBuf {
    let artifacts = artifacts();
    let target = artifacts.target_dir();
    let out = target.join("fixture-modules");
    fs::create_dir_all(&out).expect("fixture module dir");

    // The module author's crate, copied out of the workspace with its SDK
    // path made absolute, and the workspace's lock file so versions match.
    let fixture = workspace_root().join("tests/fixtures/oot_module");
    let crate_dir = target.join("oot-module-src");
    fs::create_dir_all(crate_dir.join("src")).expect("crate dir");
    let sdk = workspace_root().join("chimod-sdk");
    let manifest = fs::read_to_string(fixture.join("Cargo.toml"))
        .expect("fixture manifest")
        .replace("path = \"../../../chimod-sdk\"", &format!("path = {:?}", sdk.display().to_string()));
    write_if_changed(&crate_dir.join("Cargo.toml"), manifest.as_bytes());
    write_if_changed(
        &crate_dir.join("src/lib.rs"),
        &fs::read(fixture.join("src/lib.rs")).expect("fixture source"),
    );
    if !crate_dir.join("Cargo.lock").exists() {
        fs::copy(workspace_root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).expect("lock file");
    }
    let build_target = target.join("oot-module");
    let built = build_target.join(artifacts_profile_dir(artifacts)).join("liboot_module.so");
    artifacts.cargo(&["build"], &build_target, &crate_dir);
    install(&built, &out, OOT_MODULE);
    artifacts.cargo(&["build", "--features", "abi-mismatch"], &build_target, &crate_dir);
    install(&built, &out, MISMATCHED_MODULE);
    // The next version: the same source as another crate version.
    let v2_dir = target.join("oot-module-v2-src");
    fs::create_dir_all(v2_dir.join("src")).expect("crate dir");
    let v2_manifest = manifest.replacen("version = \"0.3.0\"", "version = \"0.4.0\"", 1);
    assert_ne!(v2_manifest, manifest, "the fixture's version line");
    write_if_changed(&v2_dir.join("Cargo.toml"), v2_manifest.as_bytes());
    write_if_changed(
        &v2_dir.join("src/lib.rs"),
        &fs::read(fixture.join("src/lib.rs")).expect("fixture source"),
    );
    if !v2_dir.join("Cargo.lock").exists() {
        fs::copy(crate_dir.join("Cargo.lock"), v2_dir.join("Cargo.lock")).expect("lock file");
    }
    // A target directory of its own: the two versions' libraries have one
    // name, and cargo does not copy a fresh one into place again.
    let v2_target = target.join("oot-module-v2");
    artifacts.cargo(&["build"], &v2_target, &v2_dir);
    install(&v2_target.join(artifacts_profile_dir(artifacts)).join("liboot_module.so"), &out, OOT_MODULE_V2);

    let c_source = workspace_root().join("tests/fixtures/not_a_module/not_a_module.c");
    let so = out.join(format!("lib{NOT_A_MODULE}.so.tmp{}", std::process::id()));
    let status = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c_source)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {} failed", c_source.display());
    fs::rename(&so, out.join(format!("lib{NOT_A_MODULE}.so"))).expect("install not_a_module");
    write_if_changed(&out.join(format!("lib{GARBAGE_MODULE}.so")), b"this is not a shared library\n");
    out
}

fn artifacts_profile_dir(artifacts: &crate::Artifacts) -> String {
    artifacts.dir().file_name().expect("profile dir").to_string_lossy().into_owned()
}

/// Copies `built` to `dir/lib<name>.so` atomically, so concurrent test
/// binaries never see a half-written library.
fn install(built: &Path, dir: &Path, name: &str) {
    let tmp = dir.join(format!("lib{name}.so.tmp{}", std::process::id()));
    fs::copy(built, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
    fs::rename(&tmp, dir.join(format!("lib{name}.so"))).expect("install module");
}

fn write_if_changed(path: &Path, content: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(content) {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, content).expect("write");
        fs::rename(&tmp, path).expect("rename");
    }
}
