//! CPU-bound processes the bench runs beside its measurements, so that the
//! figures show a node whose cores the application is using (the field),
//! not only a quiet one (the lab).

use std::process::{Child, Command, Stdio};

/// The hidden flag (without its `--`) that makes `chimaera_bench` a
/// CPU-bound process.
pub const BURN_FLAG: &str = "burn-cpu";

/// Running CPU-bound processes; stopped when dropped.
pub struct Contenders {
    children: Vec<Child>,
}

impl Contenders {
    /// Starts `n` CPU-bound copies of this binary.
    pub fn start(n: u32) -> Result<Contenders, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut contenders = Contenders { children: Vec::new() };
        for _ in 0..n {
            let child = Command::new(&exe)
                .arg(format!("--{BURN_FLAG}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start a CPU-bound process ({}): {e}", exe.display()))?;
            contenders.children.push(child);
        }
        Ok(contenders)
    }
}

impl Drop for Contenders {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a CPU-bound process does until it is killed. It also ends when
/// the bench that started it is gone, so a bench killed with SIGKILL
/// leaves no process burning a core.
pub fn burn() -> ! {
    let parent = rustix::process::getppid();
    let mut x = 1u64;
    loop {
        for _ in 0..10_000_000 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        if rustix::process::getppid() != parent {
            std::process::exit(0);
        }
    }
}
