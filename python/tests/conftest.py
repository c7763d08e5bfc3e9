"""Real runtimes for the tests: each one a `chimaera_start_runtime` process
of this build on a port of its own, with its own config and log, stopped
and its shared memory removed whatever the test did.

The binaries come from CHI_BIN_DIR (scripts/test.sh sets it), else the
workspace's target/debug, else target/release.
"""

import glob
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def bin_dir() -> Path:
    named = os.environ.get("CHI_BIN_DIR")
    candidates = [Path(named)] if named else [REPO / "target" / "debug", REPO / "target" / "release"]
    for d in candidates:
        if (d / "chimaera_start_runtime").is_file() and (d / "libchimaera_bdev.so").is_file():
            return d
    raise RuntimeError(
        f"no chimaera_start_runtime with its modules in {', '.join(map(str, candidates))}; "
        "run `cargo build --workspace` or set CHI_BIN_DIR"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runtime:
    """One runtime process. `start()` returns once it printed its ready line."""

    def __init__(self, extra_yaml: str = "", port: int | None = None, networking: str = ""):
        self.dir = tempfile.TemporaryDirectory(prefix="chi-py-")
        self.port = port or free_port()
        self.config = Path(self.dir.name) / "chimaera.yaml"
        self.config.write_text(
            "networking:\n"
            f"  port: {self.port}\n" + networking + "logging:\n"
            f"  file: {self.dir.name}/runtime.log\n" + extra_yaml
        )
        self.proc: subprocess.Popen | None = None
        self.stdout: list[str] = []

    def start(self, timeout: float = 60.0) -> "Runtime":
        env = {k: v for k, v in os.environ.items() if k not in ("CHI_SERVER_CONF", "WRP_RUNTIME_CONF")}
        env["CHI_SERVER_CONF"] = str(self.config)
        env["CHI_STATE_DIR"] = str(self.config.parent / "state")
        env["CHI_REPO_PATH"] = str(bin_dir())
        stderr = open(Path(self.dir.name) / "stderr.txt", "w")
        self.proc = subprocess.Popen(
            [str(bin_dir() / "chimaera_start_runtime")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.stdout.append(line)
                if line.startswith("chimaera runtime ready"):
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            raise RuntimeError(f"runtime on port {self.port} did not become ready:\n{self.stderr()}")
        return self

    def stderr(self) -> str:
        return (Path(self.dir.name) / "stderr.txt").read_text()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def freeze(self, timeout: float = 10.0) -> None:
        """SIGSTOP, returning once every thread is stopped (the signal is
        delivered asynchronously: a worker could still run a task)."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for stat in glob.glob(f"/proc/{self.proc.pid}/task/*/stat"):
                try:
                    text = Path(stat).read_text()
                except OSError:
                    continue
                states.append(text[text.rindex(")") + 2 :].split()[0])
            if states and all(s in ("T", "t") for s in states):
                return
            time.sleep(0.001)
        raise RuntimeError(f"runtime on port {self.port} did not stop within {timeout}s")

    def kill(self) -> None:
        """SIGKILL, leaving its shared memory as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for leftover in glob.glob(f"/dev/shm/chi_{os.getuid()}_{self.port}_*"):
            Path(leftover).unlink(missing_ok=True)


@pytest.fixture
def runtime():
    """A runtime with the default sizes, a RAM bdev's room and two slow workers."""
    rt = Runtime("memory:\n  client_data_segment_size: 64M\nworkers:\n  sched_threads: 1\n  slow_threads: 2\n")
    try:
        yield rt.start()
    finally:
        rt.stop()


@pytest.fixture
def make_runtime():
    """Makes runtimes the test starts itself (several, or on a given port)."""
    made: list[Runtime] = []

    def make(extra_yaml: str = "", port: int | None = None, networking: str = "") -> Runtime:
        rt = Runtime(extra_yaml, port, networking)
        made.append(rt)
        return rt

    try:
        yield make
    finally:
        for rt in made:
            rt.stop()
