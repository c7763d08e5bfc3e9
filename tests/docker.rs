//! The Docker deployment on this machine's engine: the image built from a
//! base the project makes itself, the three-node docker-compose cluster,
//! pools over it, a node stopped and started, a /dev/shm too small, and a
//! clean teardown. Skipped, loudly, where `docker info` fails.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chimaera_test_support::{artifacts, poll_until, workspace_root};

fn docker_available() -> bool {
    Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The compose project of this test run, torn down however the test ends.
struct Project {
    name: String,
    image: String,
    dir: PathBuf,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Output {
        run(Command::new("docker-compose")
            .current_dir(&self.dir)
            .env("CHIMAERA_IMAGE", &self.image)
            .args(["-p", &self.name])
            .args(args))
    }

    fn container(&self, node: u32) -> String {
        format!("{}_node{node}_1", self.name)
    }

    fn exec(&self, node: u32, args: &[&str]) -> Output {
        run(Command::new("docker").arg("exec").arg(self.container(node)).args(args))
    }

    fn health(&self, node: u32) -> String {
        let out = run(Command::new("docker").args([
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            &self.container(node),
        ]));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Polls (the engine has no event for it) until `check` holds.
    fn wait_for(&self, what: &str, limit: Duration, check: impl Fn() -> bool) {
        poll_until(what, limit, Duration::from_millis(250), check);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-t", "5"]);
        let _ = run(Command::new("docker").args(["rm", "-f", &format!("{}-mounted", self.name)]));
        // Last, once no container uses it: each run's image is ~0.5 GB.
        let _ = run(Command::new("docker").args(["rmi", "-f", &self.image]));
    }
}

#[test]
fn three_node_cluster_in_docker() {
    if !docker_available() {
        eprintln!("\n*** SKIPPED: `docker info` fails here, so the Docker deployment is not tested ***\n");
        return;
    }
    let started = Instant::now();
    let image = format!("chimaera-rs:test-{}", std::process::id());
    let root = workspace_root();
    let _ = artifacts(); // the debug binaries the image is built from
    let built =
        run(Command::new(root.join("docker/build-image.sh")).args([image.as_str(), "--profile", "debug"]));
    assert!(built.status.success(), "{}", text(&built));
    let image_built = started.elapsed();
    let project = Project {
        name: format!("chi{}", std::process::id()),
        image: image.clone(),
        dir: root.join("docker"),
    };
    let _ = project.compose(&["down", "-t", "1"]);
    let up = project.compose(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up));
    for node in 0..3 {
        project.wait_for(&format!("node {node} healthy"), Duration::from_secs(60), || {
            project.health(node) == "healthy"
        });
    }

    // Pools on all three nodes from one chimaera_compose inside node 0.
    let pools = "networking:\n  port: 5555\ncompose:\n  - mod_name: chimaera_bdev\n    pool_name: shared_ram\n    pool_query: broadcast\n    pool_id: 310.0\n    capacity: 16M\n    bdev_type: ram\n  - mod_name: chimaera_custom_mod\n    pool_name: everywhere\n    pool_query: broadcast\n    pool_id: 410.0\n    custom_param1: one\n    custom_param2: two\n";
    for node in [0, 2] {
        let put = project.exec(node, &["sh", "-c", &format!("printf '%s' '{pools}' > /tmp/pools.yaml")]);
        assert!(put.status.success(), "{}", text(&put));
    }
    let composed = project.exec(0, &["chimaera_compose", "/tmp/pools.yaml"]);
    assert!(composed.status.success(), "{}", text(&composed));
    assert!(text(&composed).contains("shared_ram`: created"), "{}", text(&composed));
    // On node 2 they exist already: the broadcast reached it.
    let again = project.exec(2, &["chimaera_compose", "/tmp/pools.yaml"]);
    assert_eq!(text(&again).matches("already exists").count(), 2, "{}", text(&again));

    // A bdev write on node 0, read from node 2 by sending the read to node 0.
    let probe = artifacts().bin("bdev_probe");
    for node in [0, 2] {
        let cp = run(Command::new("docker")
            .arg("cp")
            .arg(&probe)
            .arg(format!("{}:/usr/local/bin/bdev_probe", project.container(node))));
        assert!(cp.status.success(), "{}", text(&cp));
    }
    let wrote = project.exec(0, &["bdev_probe", "write", "310.0", "77"]);
    assert!(wrote.status.success(), "{}", text(&wrote));
    let line = String::from_utf8_lossy(&wrote.stdout).trim().to_owned();
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"block"), "{line}");
    let read = project.exec(2, &["bdev_probe", "read", "310.0", "0", parts[1], parts[2], "77"]);
    assert!(read.status.success() && text(&read).contains("ok"), "{}", text(&read));

    // Stop node 1: the others keep serving and report it down.
    assert!(run(Command::new("docker").args(["stop", "-t", "5", &project.container(1)])).status.success());
    project.wait_for("node 0 reports node 1 down", Duration::from_secs(30), || {
        text(&project.exec(0, &["chimaera_status"])).contains("node 1 172.28.0.11: down")
    });
    assert!(project.exec(2, &["chimaera_status"]).status.success(), "node 2 still serves");
    // Start it again: it rejoins within wait_for_restart (10 s here).
    let restarted = Instant::now();
    assert!(run(Command::new("docker").args(["start", &project.container(1)])).status.success());
    project.wait_for("node 1 rejoins", Duration::from_secs(10), || {
        text(&project.exec(0, &["chimaera_status"])).contains("node 1 172.28.0.11: up")
    });
    let rejoined = restarted.elapsed();

    // A mounted config: ${VAR} in it come from the environment.
    let mounted = root.join("target").join(format!("docker-mounted-{}.yaml", std::process::id()));
    std::fs::write(
        &mounted,
        "memory:\n  main_segment_size: 16M\n  client_data_segment_size: 8M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: ${TEST_PORT}\nlogging:\n  level: ${TEST_LEVEL}\n  file: \"\"\n",
    )
    .unwrap();
    let name = format!("{}-mounted", project.name);
    let ran = run(Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--shm-size",
            "64m",
            "-e",
            "TEST_PORT=5600",
            "-e",
            "TEST_LEVEL=debug",
            "-v",
        ])
        .arg(format!("{}:/etc/chimaera/chimaera.yaml:ro", mounted.display()))
        .arg(&image));
    assert!(ran.status.success(), "{}", text(&ran));
    let served = Instant::now();
    loop {
        let status = run(Command::new("docker").args(["exec", &name, "chimaera_status", "--port", "5600"]));
        if status.status.success() {
            break;
        }
        assert!(served.elapsed() < Duration::from_secs(30), "mounted-config container: {}", text(&status));
        std::thread::sleep(Duration::from_millis(250));
    }
    let written = run(Command::new("docker").args(["exec", &name, "cat", "/run/chimaera/chimaera.yaml"]));
    assert!(
        text(&written).contains("port: 5600") && text(&written).contains("level: debug"),
        "{}",
        text(&written)
    );
    let _ = std::fs::remove_file(&mounted);

    // A /dev/shm smaller than the segments: a clear failure, not a crash.
    let small = run(Command::new("docker").args(["run", "--rm", "--shm-size", "64m", &image]));
    assert!(!small.status.success());
    assert!(text(&small).contains("Failed to allocate shared memory segment"), "{}", text(&small));

    // Teardown leaves nothing running.
    let down = project.compose(&["down", "-t", "5"]);
    assert!(down.status.success(), "{}", text(&down));
    let left = run(Command::new("docker").args(["ps", "-q", "--filter", &format!("name={}_", project.name)]));
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty(), "containers left: {}", text(&left));
    drop(project);
    let images = run(Command::new("docker").args(["images", "-q", &image]));
    assert!(String::from_utf8_lossy(&images.stdout).trim().is_empty(), "image {image} left behind");
    eprintln!(
        "docker test: image built in {image_built:.1?}, node 1 rejoined {rejoined:.1?} after its restart, all in {:.1?}",
        started.elapsed()
    );
}
