"""The Python client's figures for `chimaera_bench --mode clients`: the
admin ping's round trip (p50 of each call), and 1 MiB writes to a bdev from
a NumPy array and from a `chimaera.Bulk`. Prints `name value` lines.

    python client_figures.py PORT POOL PINGS WRITES
"""

import sys
import time

import numpy as np

import chimaera

MIB = 1 << 20
SPAN = 64 << 20


def main() -> None:
    port, pool, pings, writes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = chimaera.Client(port=port)
    for _ in range(pings // 10):
        client.ping()
    times = []
    clock = time.perf_counter_ns
    ping = client.ping
    for _ in range(pings):
        t = clock()
        ping()
        times.append(clock() - t)
    times.sort()
    print(f"ping_p50_us {times[len(times) // 2] / 1e3:.3f}")

    dev = client.bdev(pool)
    array = np.full(MIB, 0x5A, dtype=np.uint8)
    for label, data in (("bdev_write_1m_mbps", array), ("bdev_write_1m_bulk_mbps", client.bulk(MIB))):
        t = time.perf_counter()
        for i in range(writes):
            dev.write((i * MIB) % SPAN, data)
        print(f"{label} {writes * MIB / (time.perf_counter() - t) / 1e6:.1f}")


if __name__ == "__main__":
    main()
