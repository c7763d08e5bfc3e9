//! Pools from the `compose:` section at start-up: the guide's own compose
//! examples (capacities scaled to the test machine), every kind of bad
//! entry, and `--strict`.

use chimaera_test_support::{
    GARBAGE_MODULE, MISMATCHED_MODULE, NOT_A_MODULE, OOT_MODULE, RuntimeProcess, SMALL_CONFIG, artifacts,
    fixture_modules,
};

/// The guide's "Basic Compose Example", with the file device under the
/// test's directory and capacities scaled down.
const BASIC_COMPOSE: &str = "
compose:
  # BDev file-based storage device
  - mod_name: chimaera_bdev
    pool_name: {dir}/storage_device.dat
    pool_query: dynamic
    pool_id: 300.0
    capacity: 64MB
    bdev_type: file
    io_depth: 32
    alignment: 4096

  # BDev RAM-based storage device
  - mod_name: chimaera_bdev
    pool_name: ram_cache
    pool_query: local
    pool_id: 301.0
    capacity: 32MB
    bdev_type: ram
    io_depth: 64
    alignment: 4096

  # Custom ChiMod pool
  - mod_name: chimaera_custom_mod
    pool_name: my_custom_pool
    pool_query: dynamic
    pool_id: 400.0
    # ChiMod-specific parameters here
    custom_param1: value1
    custom_param2: value2
";

/// The guide's "Complete Compose Example", scaled down.
const COMPLETE_COMPOSE: &str = "
runtime:
  stack_size: 65536
  queue_depth: 20000
  lane_map_policy: \"round_robin\"
  heartbeat_interval: 1000

compose:
  # Primary storage device (file-based)
  - mod_name: chimaera_bdev
    pool_name: {dir}/primary_storage.dat
    pool_query: dynamic
    pool_id: 300.0
    capacity: 100MB
    bdev_type: file
    io_depth: 64
    alignment: 4096

  # Fast cache device (RAM-based)
  - mod_name: chimaera_bdev
    pool_name: fast_cache
    pool_query: local
    pool_id: 301.0
    capacity: 8MB
    bdev_type: ram
    io_depth: 128
    alignment: 4096

  # Secondary storage (file-based)
  - mod_name: chimaera_bdev
    pool_name: {dir}/secondary_storage.dat
    pool_query: dynamic
    pool_id: 302.0
    capacity: 500MB
    bdev_type: file
    io_depth: 32
    alignment: 4096
";

#[test]
fn basic_compose_example_creates_every_pool() {
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}{BASIC_COMPOSE}")).start();
    let ready = rt.wait_ready_line();
    assert!(ready.contains("pools 3 created 0 failed"), "{ready}");
    let log = rt.log();
    for (i, id) in ["300.0", "301.0", "400.0"].iter().enumerate() {
        assert!(log.contains(&format!("compose[{i}]: pool created pool_id={id}")), "{log}");
    }
    // The custom module's own log line, forwarded from the plugin's tracing.
    assert!(
        log.contains("created my_custom_pool (400.0) with custom_param1=value1 custom_param2=value2"),
        "custom module parameters not reported:\n{log}"
    );
    assert!(log.contains("module=\"chimaera_custom_mod\" pool=\"my_custom_pool (400.0)\""), "{log}");
    assert!(log.contains("ram device ram_cache (301.0): capacity 32M, io_depth 64, alignment 4096"), "{log}");
    assert_eq!(rt.terminate().code(), Some(0));
}

#[test]
fn complete_compose_example_creates_every_pool() {
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}{COMPLETE_COMPOSE}")).start();
    assert!(rt.wait_ready_line().contains("pools 3 created 0 failed"));
    let log = rt.log();
    for id in ["300.0", "301.0", "302.0"] {
        assert!(log.contains(&format!("pool created pool_id={id}")), "{log}");
    }
    assert_eq!(rt.terminate().code(), Some(0));
}

/// One good entry after each kind of bad one, so a failure visibly leaves
/// the pools around it alone.
fn bad_entries() -> String {
    let entry = |mod_name: &str, id: &str, extra: &str| {
        format!(
            "  - mod_name: {mod_name}\n    pool_name: pool_{}\n    pool_query: local\n    pool_id: {id}\n{extra}",
            id.replace('.', "_")
        )
    };
    [
        entry(OOT_MODULE, "500.0", "    greeting: hello\n"),
        entry(OOT_MODULE, "501.0", "    greeting: hi\n    panic_in_create: true\n"),
        entry(OOT_MODULE, "502.0", ""),
        entry(MISMATCHED_MODULE, "503.0", "    greeting: hi\n"),
        entry(NOT_A_MODULE, "504.0", ""),
        entry(GARBAGE_MODULE, "505.0", ""),
        entry("no_such_module", "506.0", ""),
        entry("chimaera_custom_mod", "1.0", "    custom_param1: a\n    custom_param2: b\n"),
        entry("chimaera_bdev", "507.0", "    capacity: 1M\n    bdev_type: ram\n    alignment: 3000\n"),
        entry("chimaera_custom_mod", "400.0", "    custom_param1: a\n    custom_param2: b\n"),
    ]
    .concat()
}

#[test]
fn bad_entries_fail_alone_with_clear_errors() {
    let modules = fixture_modules();
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}compose:\n{}", bad_entries()))
        .env("CHI_REPO_PATH", modules)
        .start();
    let ready = rt.wait_ready_line();
    assert!(ready.contains("pools 2 created 8 failed"), "{ready}");
    let log = rt.log();
    let dir = modules.display();
    let (sdk, abi) = (chimod_sdk::abi::SDK_VERSION, chimod_sdk::abi::ABI_VERSION);
    let expected = [
        "compose[1] (oot_module 501.0): module panicked: asked to panic in create".to_owned(),
        "compose[2] (oot_module 502.0): greeting: required key is missing".to_owned(),
        format!(
            "compose[3] (mismatched_module 503.0): {dir}/libmismatched_module.so was built with chimod-sdk {sdk} (ABI {}), but this runtime uses chimod-sdk {sdk} (ABI {abi})",
            abi + 1
        ),
        format!(
            "compose[4] (not_a_module 504.0): {dir}/libnot_a_module.so is not a Chimaera module: it has no `chimod_plugin` symbol"
        ),
        format!("compose[5] (garbage_module 505.0): cannot load {dir}/libgarbage_module.so: "),
        format!("compose[6] (no_such_module 506.0): module `no_such_module` not found: no libno_such_module.so in {dir}, "),
        "compose[7] (chimaera_custom_mod 1.0): pool id 1.0 is already used by pool `chimaera_admin` (chimaera_admin)".to_owned(),
        "compose[8] (chimaera_bdev 507.0): alignment: must be a power of two (got `3000`)".to_owned(),
    ];
    for line in expected {
        assert!(log.contains(&line), "missing `{line}` in:\n{log}");
    }
    assert!(log.contains("compose[0]: pool created pool_id=500.0"), "{log}");
    assert!(log.contains("compose[9]: pool created pool_id=400.0"), "{log}");
    assert!(log.contains("oot_module created pool_500_0 (500.0) with greeting \"hello\""), "{log}");
    assert_eq!(rt.terminate().code(), Some(0), "the runtime must still stop cleanly");
}

#[test]
fn strict_makes_any_failure_fatal() {
    let modules = fixture_modules();
    let mut rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}compose:\n{}", bad_entries()))
        .env("CHI_REPO_PATH", modules)
        .arg("--strict")
        .spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(1));
    let err = rt.stderr();
    assert!(
        err.contains("8 of 10 compose entries failed (strict mode); first: compose[1] (oot_module 501.0): module panicked"),
        "{err}"
    );
    assert_eq!(rt.segment_sizes(), [None, None, None], "a refused start removes its shared memory");
}

#[test]
fn a_malformed_compose_entry_is_a_configuration_error() {
    let yaml = format!(
        "{SMALL_CONFIG}compose:\n  - mod_name: chimaera_custom_mod\n    pool_name: p\n    pool_query: local\n    pool_id: 400\n"
    );
    let mut rt = RuntimeProcess::new(&yaml).spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(2));
    assert!(rt.stderr().contains("compose[0].pool_id: `400` is not a pool id"), "{}", rt.stderr());
}

/// A compose entry for module `mod_name` at pool `id` (no parameters).
fn bare_entry(mod_name: &str, id: &str) -> String {
    format!("  - mod_name: {mod_name}\n    pool_name: {mod_name}\n    pool_query: local\n    pool_id: {id}\n")
}

#[test]
fn module_files_cut_short_are_refused_by_name_and_the_runtime_serves_on() {
    let whole = std::fs::read(artifacts().bin("libchimaera_custom_mod.so")).expect("the example module");
    let dir = tempfile::tempdir().unwrap();
    // The cut seen in the field, and cuts through each part of the file.
    let cuts = [372_736.min(whole.len() - 1), 100, 4096, whole.len() / 2, whole.len() - 1];
    let mut compose = String::new();
    for (i, cut) in cuts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("libcut{i}.so")), &whole[..*cut]).unwrap();
        compose.push_str(&bare_entry(&format!("cut{i}"), &format!("600.{i}")));
    }
    compose.push_str("  - mod_name: chimaera_custom_mod\n    pool_name: good\n    pool_query: local\n    pool_id: 400.0\n    custom_param1: a\n    custom_param2: b\n");
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}compose:\n{compose}"))
        .env("CHI_REPO_PATH", dir.path())
        .start();
    let ready = rt.wait_ready_line();
    assert!(ready.contains(&format!("pools 1 created {} failed", cuts.len())), "{ready}");
    let log = rt.log();
    for (i, cut) in cuts.iter().enumerate() {
        let line = format!(
            "compose[{i}] (cut{i} 600.{i}): cannot load {}/libcut{i}.so: it is cut short: ",
            dir.path().display()
        );
        assert!(log.contains(&line), "missing `{line}` in:\n{log}");
        assert!(log.contains(&format!("but the file has only {cut} bytes")), "{log}");
    }

    // The same through chimaera_compose on the running runtime.
    let more = dir.path().join("more.yaml");
    std::fs::write(&more, format!("compose:\n{}", bare_entry("cut0", "601.0"))).unwrap();
    let out = std::process::Command::new(artifacts().bin("chimaera_compose"))
        .arg(&more)
        .args(["--port", &rt.spec().port().to_string()])
        .env_remove("CHI_NODE_ADDRESS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .contains(&format!("failed: cannot load {}/libcut0.so: it is cut short: ", dir.path().display())),
        "{stdout}"
    );
    // What the tool was told is one warning line of the runtime's log.
    let log = rt.log();
    let told: Vec<&str> =
        log.lines().filter(|l| l.contains("cannot create pool cut0 601.0 `cut0`: cannot load")).collect();
    assert_eq!(told.len(), 1, "{log}");
    assert!(told[0].contains("WARN"), "{}", told[0]);
    let client = chimaera_test_support::attach(&rt);
    assert_eq!(client.admin().list_pools().expect("still serving").len(), 2, "admin and `good`");
    assert_eq!(rt.terminate().code(), Some(0), "the runtime must still stop cleanly");
}

#[test]
fn a_library_the_loader_refuses_is_named_with_the_loader_s_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cc = |args: &[&str]| std::process::Command::new("gcc").args(args).current_dir(dir.path()).status();
    std::fs::write(dir.path().join("gone.c"), "int gone(void) { return 1; }\n").unwrap();
    std::fs::write(
        dir.path().join("needs.c"),
        "int gone(void);\nint chimod_plugin(void) { return gone(); }\n",
    )
    .unwrap();
    let built = cc(&["-shared", "-fPIC", "-o", "libgone.so", "gone.c"]).is_ok_and(|s| s.success())
        && cc(&["-shared", "-fPIC", "-o", "libneeds_gone.so", "needs.c", "-L.", "-lgone"])
            .is_ok_and(|s| s.success());
    if !built {
        eprintln!("\n*** SKIPPED: needs gcc to build a library with a missing dependency ***\n");
        return;
    }
    // A whole ELF shared object, whose dependency is gone: only dlopen can tell.
    std::fs::remove_file(dir.path().join("libgone.so")).unwrap();
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}compose:\n{}", bare_entry("needs_gone", "602.0")))
        .env("CHI_REPO_PATH", dir.path())
        .start();
    let line = format!(
        "compose[0] (needs_gone 602.0): cannot load {}/libneeds_gone.so: dlopen failed: libgone.so: cannot open shared object file",
        dir.path().display()
    );
    assert!(rt.log().contains(&line), "missing `{line}` in:\n{}", rt.log());
    assert_eq!(rt.terminate().code(), Some(0));
}
