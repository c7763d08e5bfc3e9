//! The C API as C and C++ programs use it: the header and libraries are
//! installed into a prefix with `scripts/install_c_client.sh`, the tour
//! programs of `client-c/examples` are compiled against them with the
//! machine's gcc and g++ (shared and static), and run against a real
//! runtime.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, artifacts, unique_port, workspace_root};

fn installed_prefix(dir: &Path) -> PathBuf {
    let prefix = dir.join("prefix");
    let out = Command::new(workspace_root().join("scripts/install_c_client.sh"))
        .arg(&prefix)
        .arg("--from")
        .arg(artifacts().dir())
        .output()
        .expect("run install_c_client.sh");
    assert!(out.status.success(), "install failed: {}", String::from_utf8_lossy(&out.stderr));
    for file in ["include/chimaera.h", "lib/libchimaera_client.so", "lib/libchimaera_client.a"] {
        assert!(prefix.join(file).is_file(), "{file} installed");
    }
    prefix
}

/// Compiles `source` with `compiler` against the prefix; `static_lib`
/// links the `.a` instead of the `.so`.
fn compile(compiler: &str, std: &str, source: &str, prefix: &Path, static_lib: bool, exe: &Path) {
    let mut cmd = Command::new(compiler);
    cmd.arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(workspace_root().join("client-c/examples").join(source))
        .arg("-I")
        .arg(prefix.join("include"))
        .arg("-o")
        .arg(exe);
    if static_lib {
        cmd.arg(prefix.join("lib/libchimaera_client.a")).args(["-lpthread", "-ldl", "-lm"]);
    } else {
        let lib = prefix.join("lib");
        cmd.arg("-L").arg(&lib).arg("-lchimaera_client").arg(format!("-Wl,-rpath,{}", lib.display()));
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(out.status.success(), "{compiler} {source} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn run(exe: &Path, target: &str) -> (String, Output) {
    let out =
        Command::new(exe).arg(target).env_remove("CHI_CLUSTER_KEY_FILE").output().expect("run the program");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} exited with {}:\nstdout:\n{text}\nstderr:\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out)
}

#[test]
fn c_and_cpp_programs_use_a_real_runtime_through_the_installed_header() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = installed_prefix(dir.path());
    let c_shared = dir.path().join("tour_shared");
    let c_static = dir.path().join("tour_static");
    let cpp = dir.path().join("tour_cpp");
    compile("gcc", "c11", "client_tour.c", &prefix, false, &c_shared);
    compile("gcc", "c11", "client_tour.c", &prefix, true, &c_static);
    compile("g++", "c++17", "client_tour.cpp", &prefix, false, &cpp);

    // Remote clients on 127.0.0.2: the same tour also runs over TCP.
    let client_port = unique_port();
    let config = SMALL_CONFIG.replace(
        "networking:\n  port: {port}\n",
        &format!(
            "networking:\n  port: {{port}}\n  client_port: {client_port}\n  client_address: 127.0.0.2\n"
        ),
    );
    let rt = RuntimeProcess::new(&config).start();
    let port = rt.spec().port().to_string();
    let remote = format!("127.0.0.2:{client_port}");
    for (exe, target) in [(&c_shared, &port), (&c_static, &port), (&c_shared, &remote)] {
        let (text, _) = run(exe, target);
        assert_eq!(text.lines().any(|l| l == "attached over TCP"), target.contains(':'), "{text}");
        for line in [
            "ping ok",
            "pools listed",
            "bdev round trip equal (1048576 bytes)",
            "waited 1000 tasks",
            "stats has workers",
        ] {
            assert!(text.lines().any(|l| l == line), "`{line}` in the output of {}:\n{text}", exe.display());
        }
        let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned();
        assert!(line("missing pool: CHI_ERR_POOL_NOT_FOUND: ").contains("999.9"), "{text}");
        for start in [
            "bad query: CHI_ERR_INVALID_ARGUMENT: pool_query: `everywhere` is not a pool query",
            "null client: CHI_ERR_INVALID_ARGUMENT: client is NULL",
            "no runtime: CHI_ERR_NO_RUNTIME: no Chimaera runtime is running for port 1",
        ] {
            assert!(!line(start).is_empty(), "a line starting `{start}` in:\n{text}");
        }
    }
    let (text, _) = run(&cpp, &port);
    assert!(text.contains("c++ ping ok\nc++ waited 100 tasks\n"), "{text}");
    assert!(text.contains("c++ exception: call: CHI_ERR_POOL_NOT_FOUND: "), "{text}");
    assert!(text.contains("c++ stats ") && text.contains(" bytes of JSON"), "{text}");
}
