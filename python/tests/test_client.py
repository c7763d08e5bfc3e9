"""The Python package against real runtimes: attach, pools, calls, futures
in threads and in asyncio, bdev I/O from NumPy arrays, and every exception."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import chimaera
from chimaera import ADMIN_POOL, PING
from conftest import free_port

BDEV = "300.0"


def ram_bdev(client, pool_id=BDEV, capacity="80MB"):
    return client.create_pool("chimaera_bdev", f"ram::py{pool_id}", pool_id, bdev_type="ram", capacity=capacity)


def test_ping_stats_and_the_pools_made_at_runtime(runtime):
    client = chimaera.Client(port=runtime.port)
    assert client.port == runtime.port
    client.ping()
    stats = client.stats()
    assert stats["workers"] and stats["slots_total"] >= stats["slots_free"] > 0
    assert [p["pool_id"] for p in client.list_pools()] == ["1.0"]

    assert ram_bdev(client) == "created"
    assert ram_bdev(client) == "already_exists"
    pools = {p["pool_id"]: p for p in client.list_pools()}
    assert pools[BDEV]["mod_name"] == "chimaera_bdev" and pools[BDEV]["pool_name"] == "ram::py300.0"
    assert '"capacity":"80MB"' in pools[BDEV]["params_json"].replace(" ", "")
    client.destroy_pool((300, 0))
    assert BDEV not in {p["pool_id"] for p in client.list_pools()}


def test_a_client_found_through_its_configuration_file(runtime, monkeypatch):
    assert chimaera.Client(config=str(runtime.config)).port == runtime.port
    monkeypatch.setenv("CHI_SERVER_CONF", str(runtime.config))
    chimaera.Client().ping()


def test_call_submit_and_fire_and_forget(runtime):
    client = chimaera.Client(port=runtime.port)
    client.create_pool("chimaera_custom_mod", "echoes", "400.0", custom_param1="a", custom_param2="b")
    # The echo method's input and output are a byte string (postcard: a
    # length, then the bytes).
    message = b"hello from python"
    encoded = bytes([len(message)]) + message
    assert client.call("400.0", 11, encoded) == encoded
    assert client.call("400.0", 11, bytearray(encoded)) == encoded
    assert client.call("400.0", 11, memoryview(encoded)) == encoded
    future = client.submit("400.0", 11, encoded)
    assert future.result(10) == encoded
    assert future.done() and future.result() == encoded, "the output is kept once taken"
    client.fire_and_forget(ADMIN_POOL, PING)
    assert client.call(ADMIN_POOL, PING) == b""


def test_a_64_mib_numpy_array_through_a_bdev(runtime):
    client = chimaera.Client(port=runtime.port)
    ram_bdev(client)
    dev = client.bdev(BDEV)
    data = np.random.default_rng(7).integers(0, 256, size=64 << 20, dtype=np.uint8)
    assert dev.write(0, data) == data.nbytes
    back = np.zeros_like(data)
    assert dev.read(0, out=back) is back
    assert np.array_equal(back, data)
    # Other shapes and types: it is bytes that move.
    words = np.arange(1 << 18, dtype=np.float64).reshape(512, 512)
    dev.write(1 << 20, words)
    again = np.empty_like(words)
    dev.read(1 << 20, out=again)
    assert np.array_equal(again, words)
    assert dev.read(1 << 20, 16) == words.tobytes()[:16]
    odd = np.random.default_rng(8).integers(0, 256, size=1_000_003, dtype=np.uint8)
    dev.write(12345, odd)
    assert dev.read(12345, odd.nbytes) == odd.tobytes()
    stats = dev.stats()
    assert stats["writes"]["bytes"] >= data.nbytes and stats["reads"]["bytes"] >= data.nbytes


def test_bulk_buffers_are_written_and_filled_in_place(runtime):
    client = chimaera.Client(port=runtime.port)
    ram_bdev(client)
    dev = client.bdev(BDEV)
    out = client.bulk(1 << 20)
    view = np.frombuffer(out, dtype=np.uint8)
    view[:] = np.arange(1 << 20, dtype=np.uint64).astype(np.uint8)
    dev.write(4096, out)
    into = client.bulk(1 << 20)
    assert dev.read(4096, out=into) is into
    assert np.array_equal(np.frombuffer(into, dtype=np.uint8), view)
    assert len(into) == 1 << 20 and memoryview(into).nbytes == 1 << 20


def test_a_bdev_refuses_what_runs_past_its_capacity(runtime):
    client = chimaera.Client(port=runtime.port)
    ram_bdev(client, capacity="1MB")
    with pytest.raises(chimaera.TaskFailed, match="run past the device's capacity"):
        client.bdev(BDEV).write((1 << 20) - 2, b"abcd")
    # Staged in pieces, the pieces past the end fail and the rest settle.
    with pytest.raises(chimaera.TaskFailed, match="run past the device's capacity"):
        client.bdev(BDEV).write(0, np.ones(3 << 20, dtype=np.uint8))
    client.bdev(BDEV).write(0, b"still serving")
    assert client.bdev(BDEV).read(0, 13) == b"still serving"
    with pytest.raises(MemoryError, match="cannot hold"):
        client.bdev(BDEV).read(0, 1 << 62)
    with pytest.raises(chimaera.ChimaeraError):
        client.bulk(1 << 62)
    with pytest.raises(ValueError, match="exactly one"):
        client.bdev(BDEV).read(0)
    with pytest.raises(ValueError, match="writable"):
        client.bdev(BDEV).read(0, out=b"immutable")


def test_asyncio_awaits_a_thousand_tasks(runtime):
    client = chimaera.Client(port=runtime.port)

    async def main():
        futures = [client.submit(ADMIN_POOL, PING) for _ in range(1000)]
        return await asyncio.gather(*futures)

    results = asyncio.run(main())
    assert len(results) == 1000 and set(results) == {b""}


def test_a_timeout_leaves_the_task_in_flight_and_the_gil_free(runtime):
    client = chimaera.Client(port=runtime.port)
    runtime.freeze()
    try:
        future = client.submit(ADMIN_POOL, PING)
        ticks = 0
        stop = threading.Event()

        def count():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1

        counter = threading.Thread(target=count)
        counter.start()
        with pytest.raises(chimaera.Timeout, match="did not complete within"):
            future.result(timeout=0.5)
        stop.set()
        counter.join()
        assert ticks > 1000, "another Python thread ran while result() waited"
        client.set_call_timeout(0.2)
        with pytest.raises(chimaera.Timeout):
            client.ping()
    finally:
        runtime.signal(signal.SIGCONT)
    assert future.result(timeout=10) == b""
    client.set_call_timeout(None)
    client.ping()


def test_every_exception_names_what_went_wrong(runtime, make_runtime, tmp_path):
    for cls in (
        chimaera.NoRuntime,
        chimaera.PoolNotFound,
        chimaera.TaskFailed,
        chimaera.Timeout,
        chimaera.RuntimeGone,
        chimaera.ConfigError,
    ):
        assert issubclass(cls, chimaera.ChimaeraError)

    unused = make_runtime().port
    with pytest.raises(chimaera.NoRuntime, match=f"no Chimaera runtime is running for port {unused}"):
        chimaera.Client(port=unused)
    with pytest.raises(chimaera.ConfigError, match="cannot be read"):
        chimaera.Client(config=str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="give port alone"):
        chimaera.Client(config="x.yaml", port=1)
    with pytest.raises(ValueError, match="key_file is for a remote client"):
        chimaera.Client(key_file="k")
    with pytest.raises(chimaera.NoRuntime, match=f"cannot reach a Chimaera runtime at 127.0.0.2:{unused}"):
        chimaera.Client(remote=f"127.0.0.2:{unused}")

    client = chimaera.Client(port=runtime.port)
    with pytest.raises(chimaera.PoolNotFound, match="999.9"):
        client.call("999.9", PING)
    ram_bdev(client)
    with pytest.raises(chimaera.TaskFailed):
        client.call(BDEV, 12, b"\xff\xff")  # a write request that does not decode
    with pytest.raises(chimaera.TaskFailed, match="no module named|cannot|not found|chimaera_nonexistent"):
        client.create_pool("chimaera_nonexistent", "x", "700.0")
    with pytest.raises(ValueError, match="pool_query"):
        client.create_pool("chimaera_bdev", "ram::q", "301.0", pool_query="everywhere")
    with pytest.raises(ValueError, match="pool_id"):
        client.destroy_pool("not-an-id")
    with pytest.raises(TypeError, match="pool_id"):
        client.destroy_pool(3.5)
    with pytest.raises(TypeError, match="bytes-like"):
        client.call(ADMIN_POOL, PING, "text is not bytes")


def test_a_client_of_a_restarted_runtime_gets_an_error_not_a_hang(make_runtime):
    first = make_runtime().start()
    client = chimaera.Client(port=first.port)
    client.ping()
    first.kill()
    second = make_runtime(port=first.port)
    second.config.write_text(first.config.read_text())
    second.start()
    with pytest.raises(chimaera.RuntimeGone, match=f"runtime for port {first.port} (restarted|died)"):
        client.ping()
    chimaera.Client(port=first.port).ping()


def test_a_remote_client_over_tcp_with_the_cluster_key(make_runtime, tmp_path, monkeypatch):
    key, wrong = tmp_path / "cluster.key", tmp_path / "wrong.key"
    key.write_bytes(b"the cluster's own secret key, 32b")
    wrong.write_bytes(b"a key of some other cluster, 32b")
    client_port = make_runtime().port  # a free port, never started
    rt = make_runtime(
        "memory:\n  client_data_segment_size: 16M\n",
        networking=f"  client_port: {client_port}\n  client_address: 127.0.0.2\n  cluster_key_file: {key}\n",
    ).start()
    addr = f"127.0.0.2:{client_port}"
    monkeypatch.delenv("CHI_CLUSTER_KEY_FILE", raising=False)
    monkeypatch.delenv("CHI_SERVER_CONF", raising=False)

    client = chimaera.Client(remote=addr, key_file=str(key))
    assert client.remote == addr and client.port == client_port
    client.ping()
    ram_bdev(client, capacity="32MB")
    data = np.arange(3 << 20, dtype=np.uint16)  # 6 MiB: several pieces
    dev = client.bdev(BDEV)
    assert dev.write(4096, data) == data.nbytes
    back = np.empty_like(data)
    dev.read(4096, out=back)
    assert np.array_equal(back, data)
    assert dev.read(4096, 8) == data.tobytes()[:8]

    async def many():
        return await asyncio.gather(*(client.submit(ADMIN_POOL, PING) for _ in range(200)))

    assert asyncio.run(many()) == [b""] * 200
    assert client.stats()["remote_clients"]["connected"] == 1

    # The key from the environment, or from the configuration file.
    monkeypatch.setenv("CHI_CLUSTER_KEY_FILE", str(key))
    chimaera.Client(remote=addr).ping()
    monkeypatch.delenv("CHI_CLUSTER_KEY_FILE")
    chimaera.Client(remote=addr, config=str(rt.config)).ping()
    monkeypatch.setenv("CHI_SERVER_ADDR", addr)
    monkeypatch.setenv("CHI_CLUSTER_KEY_FILE", str(key))
    assert chimaera.Client().remote == addr
    monkeypatch.delenv("CHI_SERVER_ADDR")
    monkeypatch.delenv("CHI_CLUSTER_KEY_FILE")

    with pytest.raises(chimaera.PermissionDenied, match="requires the cluster key"):
        chimaera.Client(remote=addr)
    with pytest.raises(chimaera.PermissionDenied, match="cluster key is not this runtime's"):
        chimaera.Client(remote=addr, key_file=str(wrong))

    rt.stop()
    with pytest.raises(chimaera.Stopping, match="runtime stopping"):
        client.ping()


def test_a_full_queue_raises_queue_full_and_a_stopping_runtime_stopping(make_runtime, tmp_path):
    rt = make_runtime("workers:\n  sched_threads: 1\n  slow_threads: 1\nruntime:\n  queue_depth: 4\n").start()
    client = chimaera.Client(port=rt.port)
    rt.freeze()
    try:
        # Tasks to a pool that does not exist still take lane cells until a
        # worker looks at them; the frozen runtime looks at none.
        for _ in range(4):
            client.fire_and_forget("999.9", 20)
        client.set_call_timeout(0.3)
        with pytest.raises(chimaera.QueueFull, match="task queue full: lane 0 held queue_depth 4 tasks"):
            client.call("999.9", 20)
    finally:
        rt.signal(signal.SIGCONT)
    client.set_call_timeout(None)
    client.ping()

    # A remote client learns that the runtime stops, in those words.
    client_port = make_runtime().port
    remote_rt = make_runtime(networking=f"  client_port: {client_port}\n  client_address: 127.0.0.2\n").start()
    remote = chimaera.Client(remote=f"127.0.0.2:{client_port}")
    remote.ping()
    remote_rt.stop()
    with pytest.raises(chimaera.Stopping, match="runtime stopping"):
        remote.ping()


def test_a_runtime_that_never_finishes_starting_raises_not_ready(tmp_path):
    # A process that holds a runtime identity's lock but never publishes its
    # queue looks, to a client, like a runtime still starting.
    port = free_port()
    lock = Path(f"/dev/shm/chi_{os.getuid()}_{port}_lock")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(chimaera.NotReady, match=f"the runtime for port {port} did not become ready within 10s"):
            chimaera.Client(port=port)
    finally:
        holder.stdin.close()
        holder.wait(10)
        lock.unlink(missing_ok=True)
