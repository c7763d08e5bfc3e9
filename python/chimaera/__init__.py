"""The Python client of the Chimaera runtime.

    import chimaera
    client = chimaera.Client()          # the runtime CHI_SERVER_CONF names, or port 5555
    client.ping()
    client.create_pool("chimaera_bdev", "ram::scratch", "300.0", bdev_type="ram", capacity="64MB")
    dev = client.bdev("300.0")
    dev.write(0, numpy_array)
    back = dev.read(0, out=numpy.empty_like(numpy_array))

Every blocking call releases the GIL. Errors are `ChimaeraError` or one of
its subclasses, whose message says what went wrong.
"""

from ._native import (
    Bdev,
    Bulk,
    ChimaeraError,
    Client,
    ConfigError,
    Future,
    NoRuntime,
    NotReady,
    PermissionDenied,
    PoolNotFound,
    QueueFull,
    RuntimeGone,
    Stopping,
    TaskFailed,
    Timeout,
)

ADMIN_POOL = "1.0"
"""The runtime's own pool."""

PING = 16
"""The admin pool's ping method: no input, no output."""

__all__ = [
    "ADMIN_POOL",
    "PING",
    "Bdev",
    "Bulk",
    "ChimaeraError",
    "Client",
    "ConfigError",
    "Future",
    "NoRuntime",
    "NotReady",
    "PermissionDenied",
    "PoolNotFound",
    "QueueFull",
    "RuntimeGone",
    "Stopping",
    "TaskFailed",
    "Timeout",
]
