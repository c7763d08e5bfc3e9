//! A full disk under a file bdev. A device's space is reserved when it is
//! created (`fallocate`), so on a file system that supports that, writes
//! cannot run out of room; where it does not (the device file is then
//! sparse), or when something else punches holes in the file, they can.
//! This test makes it happen on a small tmpfs of its own: it punches out the
//! device's space, fills the file system, and checks that a write fails with
//! the system's error while the runtime serves on, that written data is
//! intact, and that writes succeed again once there is room. Needs root to
//! mount; skipped, loudly, otherwise.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use chimaera_bdev_api::Block;
use chimaera_client::{BdevClient, Client};
use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, attach, pattern};
use chimod_sdk::PoolId;

const DEV: PoolId = PoolId::new(300, 0);

/// A tmpfs mounted on a temporary directory; unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        if !rustix::process::geteuid().is_root() {
            return None;
        }
        let dir = tempfile::tempdir().expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "chimaera-test"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!("mount failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Some(SmallFs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).output();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) -> PathBuf {
    let filler = path.join("filler");
    let mut file = File::create(&filler).expect("filler");
    let chunk = vec![0u8; 64 << 10];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    filler
}

fn write(client: &Client, dev: &BdevClient<'_>, block: Block, seed: u64) -> Result<u64, String> {
    let mut buf = client.bulk_alloc(block.size).unwrap();
    buf.copy_from_slice(&pattern(seed, block.size as usize));
    dev.write(block, 0, &buf).map_err(|e| e.to_string())
}

fn read(client: &Client, dev: &BdevClient<'_>, block: Block) -> Vec<u8> {
    let mut buf = client.bulk_alloc(block.size).unwrap();
    dev.read(block, 0, &mut buf).unwrap();
    buf.to_vec()
}

#[test]
fn a_write_to_a_full_disk_fails_and_the_runtime_serves_on() {
    let Some(fs) = SmallFs::mount("12M") else {
        eprintln!("\n*** SKIPPED: needs root to mount a small tmpfs for the full-disk test ***\n");
        return;
    };
    let device = fs.path().join("device.dat");
    let config = SMALL_CONFIG.replace("client_data_segment_size: 4M", "client_data_segment_size: 8M")
        + &format!(
            "compose:\n  - mod_name: chimaera_bdev\n    pool_name: {}\n    pool_query: local\n    \
             pool_id: 300.0\n    capacity: 8M\n    bdev_type: file\n",
            device.display()
        );
    let rt = RuntimeProcess::new(&config).start();
    let client = attach(&rt);
    let dev = BdevClient::new(&client, DEV);

    let kept = dev.allocate(1 << 20).unwrap()[0];
    assert_eq!(write(&client, &dev, kept, 1), Ok(1 << 20));
    client.admin().flush().unwrap();

    // Give the device's unwritten space back to the file system, then let
    // something else take all of it.
    let rest = kept.offset + kept.size;
    let punched = Command::new("fallocate")
        .args(["--punch-hole", "--offset", &rest.to_string(), "--length", &((8 << 20) - rest).to_string()])
        .arg(&device)
        .status()
        .expect("run fallocate");
    assert!(punched.success());
    let filler = fill(fs.path());

    let doomed = dev.allocate(1 << 20).unwrap()[0];
    let err = write(&client, &dev, doomed, 2).expect_err("a write to a full disk must fail");
    eprintln!("the write to a full disk: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    let named = format!("file device {}: write of 1048576 bytes at device offset", device.display());
    assert!(err.contains(&named), "{err}");

    // The runtime serves on: stats answer, the data written before is intact.
    let stats = dev.stats().unwrap();
    assert!(stats.writes.count >= 1, "{stats:?}");
    assert_eq!(read(&client, &dev, kept), pattern(1, 1 << 20), "data written before the disk filled");

    // Room again: the same block takes its data.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(write(&client, &dev, doomed, 3), Ok(1 << 20));
    assert_eq!(read(&client, &dev, doomed), pattern(3, 1 << 20));
    assert_eq!(read(&client, &dev, kept), pattern(1, 1 << 20));
    drop(client);
    drop(rt);
}
