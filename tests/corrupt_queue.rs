//! A process of the runtime's own user writes garbage over the task queue
//! in shared memory. The threat model trusts such processes with the data,
//! but the runtime must stay stoppable: it reports the corruption instead
//! of spinning on it, and SIGTERM still ends it within its stop grace.

use std::io::{Seek, SeekFrom, Write};

use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, poll_until};
use std::time::Duration;

/// Bytes no runtime or client writes, the same on every run.
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

#[test]
fn garbage_over_the_queue_is_reported_and_sigterm_still_stops_the_runtime() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let identity = rt.spec().identity();
    let path = format!("/dev/shm{}", identity.segment_name("main"));
    let mut main = std::fs::OpenOptions::new().write(true).open(&path).expect("open main as its user");
    // The header and the first lanes, as a stray write would leave them.
    main.seek(SeekFrom::Start(0)).unwrap();
    main.write_all(&garbage(64 << 10)).unwrap();
    drop(main);
    poll_until(
        "the corruption reported in the log",
        Duration::from_secs(60),
        Duration::from_millis(20),
        || rt.log().contains("in shared memory is corrupt"),
    );
    let mut rt = rt;
    rt.signal(rustix::process::Signal::TERM);
    // `wait_exit` fails the test if the process outlives its bound.
    let status = rt.wait_exit();
    assert!(matches!(status.code(), Some(0 | 1)), "{status}: {}", rt.stderr());
    let left: Vec<String> = chimaera::shm::all_names(&identity)
        .filter(|n| std::fs::symlink_metadata(format!("/dev/shm{n}")).is_ok())
        .collect();
    assert!(left.is_empty(), "names left after the stop: {left:?}");
}
