"""The processes of a distributed deployment, started as ``python -m qianbao.cluster.run``:

    unit N                 one unit process (the same as ``qianbao serve-unit N``)
    access PORT [PORT...]  one access-layer process listening on every PORT (SO_REUSEPORT, so
                           several processes may share a public port)

Settings come from ``QIANBAO_CONFIG`` / ``QIANBAO_*`` as everywhere.
"""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn

from qianbao.api.wire import OneWriteHttp
from qianbao.cluster.serve import (
    EXIT_LEASE_HELD,
    Process,
    open_access_process,
    open_unit_process,
    unit_address,
)
from qianbao.platform.lease import LeaseHeld
from qianbao.platform.settings import Settings, load_settings

log = logging.getLogger("qianbao.cluster")


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"
    )


def _uvicorn(process: Process, sockets: list[socket.socket]) -> None:
    config = uvicorn.Config(
        process.app,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        loop="auto",
        http=OneWriteHttp,  # one send per response (api/wire.py)
    )
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        process.close()


def listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_unit(settings: Settings, unit: int, *, lease_wait_s: float = 0.0) -> int:
    """Host unit ``unit`` until stopped; 3 if another live process owns it."""
    host, port = unit_address(settings, unit)
    try:
        process = open_unit_process(settings, unit, lease_wait_s=lease_wait_s)
    except LeaseHeld as held:
        print(f"qianbao serve-unit: {held}", file=sys.stderr)
        return EXIT_LEASE_HELD
    log.info(
        "unit %s: lease held (%s), serving on %s:%s", unit, process.leases[0].holder, host, port
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))  # not shared: one owner per unit
    sock.listen(2048)
    _uvicorn(process, [sock])
    return 0


def serve_access(settings: Settings, ports: list[int]) -> int:
    sockets = [listen(settings.host, port) for port in ports]  # before opening: fail fast
    process = open_access_process(settings)
    log.info("access layer on %s ports %s", settings.host, ports)
    _uvicorn(process, sockets)
    return 0


def main(argv: list[str]) -> int:
    _logging()
    if len(argv) >= 2 and argv[0] == "unit":
        return serve_unit(
            load_settings(), int(argv[1]), lease_wait_s=float(argv[2]) if len(argv) > 2 else 5.0
        )
    if len(argv) >= 2 and argv[0] == "access":
        return serve_access(load_settings(), [int(port) for port in argv[1:]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
