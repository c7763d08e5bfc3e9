//! The client stays thin: what an application that depends on it builds.
//! Without the `yaml` feature it pulls no async runtime, ZeroMQ, plugin
//! loader or fiber library, and at most 40 crates in all (the goal;
//! `docs/client_guide.md` lists the figures).

use std::process::Command;

fn crates(features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["tree", "-p", "chimaera-client", "-e", "normal,build", "--prefix", "none"]);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for f in features {
        cmd.args(["--features", f]);
    }
    let out = cmd.output().expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_client_depends_on_no_runtime_machinery() {
    for features in [&[][..], &["yaml"][..]] {
        let names = crates(features);
        assert!(names.iter().any(|n| n == "chimaera-protocol"), "{names:?}");
        for heavy in ["tokio", "zeromq", "libloading", "corosensei", "tracing-subscriber", "chimaera-runtime"]
        {
            assert!(!names.iter().any(|n| n == heavy), "{heavy} is in the client's tree with {features:?}");
        }
    }
}

#[test]
fn the_client_without_yaml_is_at_most_40_crates() {
    let names = crates(&[]);
    assert!(names.len() <= 40, "{} crates: {names:?}", names.len());
    assert!(!names.iter().any(|n| n == "serde-saphyr"), "{names:?}");
}
