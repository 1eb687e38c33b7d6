"""Streaming replication in the local cluster (docs/decisions/0930-synchronous-standby.md).

A replicated unit's database lives on its own pair of PostgreSQL servers, slot "a" and slot
"b", one the primary and the other a hot standby made by ``pg_basebackup`` and streaming from
it. The primary names the standby in ``synchronous_standby_names`` and runs with
``synchronous_commit = on``: a commit returns (and the caller hears yes) only once the
standby has flushed its WAL, so losing the primary loses nothing acknowledged.

The unit's DSN lists both servers, the current primary first, with
``target_session_attrs=primary``: every process that opens the unit database (the unit
process, the access layer's readers, tools) connects to whichever server is the primary, so a
promoted standby is found without restarting the readers. A fenced old primary carries a
``standby.signal`` and can never come back as a second primary.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qianbao.cluster import store
from qianbao.cluster.local import Layout, _as_postgres, pid_alive, port_open, record

SLOTS = ("a", "b")
SYNC_WAIT_S = 60.0
FENCED = "qianbao.fenced"  # in a fenced old primary's directory: rebuild, never just start
Say = Callable[[str], None]


class ReplicationError(RuntimeError):
    """The standby could not be made, promoted or brought in sync."""


def is_replicated(layout: Layout, unit: int) -> bool:
    return unit in layout.replicated_units


def slot_port(layout: Layout, unit: int, slot: str) -> int:
    base = layout.replica_port_base or layout.pg_port + 1
    index = sorted(layout.replicated_units).index(unit)
    return base + 2 * index + SLOTS.index(slot)


def primary_slot(layout: Layout, unit: int) -> str:
    return layout.unit_primary.get(str(unit), "a")


def standby_slot(layout: Layout, unit: int) -> str:
    return "b" if primary_slot(layout, unit) == "a" else "a"


def slot_data(layout: Layout, unit: int, slot: str) -> Path:
    return (layout.root / f"pg-unit{unit}{slot}").resolve()


def standby_name(unit: int) -> str:
    return f"qb_unit{unit}"


def unit_url(layout: Layout, unit: int) -> str:
    """Both servers, the primary first; libpq takes the one that is not in recovery."""
    hosts = ",".join(
        f"{layout.host}:{slot_port(layout, unit, slot)}"
        for slot in (primary_slot(layout, unit), standby_slot(layout, unit))
    )
    database = layout.database(f"unit{unit}")
    return (
        f"postgresql://postgres@{hosts}/{database}?target_session_attrs=primary&connect_timeout=3"
    )


def admin_url(layout: Layout, port: int) -> str:
    return f"postgresql://postgres@{layout.host}:{port}/postgres"


# --- one server ------------------------------------------------------------------------------
def _pg_ctl(pg: Path, data: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*_as_postgres(), str(pg / "pg_ctl"), "-D", str(data), *args],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _own_dir(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    if _as_postgres():
        subprocess.run(["chown", "-R", "postgres", str(data)], check=True)


def server_pid(data: Path) -> int | None:
    pid_file = data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def start_server(pg: Path, data: Path, host: str, port: int) -> int:
    """Start the server of ``data`` on ``host:port`` (initdb first if it has no cluster);
    returns the postmaster's pid. Every server: fsync on, ``synchronous_commit = on``."""
    if not (data / "PG_VERSION").exists():
        _own_dir(data)
        subprocess.run(
            [*_as_postgres(), str(pg / "initdb"), "-D", str(data), "-U", "postgres"]
            + ["--auth=trust", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    running = server_pid(data)
    if running is None and port_open(host, port):
        raise ReplicationError(f"port {port} is used by another server; choose another port")
    if running is None:
        options = (
            f"-c listen_addresses={host} -p {port} -k /tmp -c max_connections=400"
            " -c fsync=on -c synchronous_commit=on -c wal_level=replica -c max_wal_senders=8"
        )
        done = _pg_ctl(
            pg, data, "-l", str(data / "server.log"), "-w", "-t", "120", "-o", options, "start"
        )
        if done.returncode != 0:
            raise ReplicationError(f"PostgreSQL in {data} did not start: {done.stderr!r}")
    pid = server_pid(data)
    if pid is None:
        raise ReplicationError(f"PostgreSQL in {data} is not running after its start")
    return pid


def stop_server(pg: Path, data: Path, host: str, port: int, *, mode: str = "fast") -> bool:
    """Stop the server of ``data`` (``immediate``: no shutdown checkpoint); True if it ran."""
    if server_pid(data) is None:
        return False
    _pg_ctl(pg, data, "-m", mode, "-w", "-t", "60", "stop")
    deadline = time.monotonic() + 20
    while port_open(host, port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


# --- a unit's pair ---------------------------------------------------------------------------
def base_backup(layout: Layout, pg: Path, unit: int, slot: str) -> None:
    """A fresh copy of the primary in ``slot``'s directory, configured to stream from it as
    the synchronous standby named ``standby_name(unit)``."""
    data = slot_data(layout, unit, slot)
    shutil.rmtree(data, ignore_errors=True)
    _own_dir(data)
    primary_port = slot_port(layout, unit, primary_slot(layout, unit))
    conninfo = (
        f"host={layout.host} port={primary_port} user=postgres"
        f" application_name={standby_name(unit)}"
    )
    done = subprocess.run(
        [*_as_postgres(), str(pg / "pg_basebackup"), "-d", conninfo, "-D", str(data)]
        + ["-X", "stream", "-R", "-c", "fast"],
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        raise ReplicationError(f"pg_basebackup for unit {unit} failed: {done.stderr!r}")
    with (data / "postgresql.auto.conf").open("a") as conf:  # the standby's name, for sure
        conf.write(f"primary_conninfo = '{conninfo}'\nsynchronous_standby_names = ''\n")


def wait_in_sync(layout: Layout, unit: int, timeout_s: float = SYNC_WAIT_S) -> None:
    port = slot_port(layout, unit, primary_slot(layout, unit))
    deadline = time.monotonic() + timeout_s
    while store.sync_state(admin_url(layout, port), standby_name(unit)) != "sync":
        if time.monotonic() > deadline:
            raise ReplicationError(f"unit {unit}'s standby is not in sync after {timeout_s} s")
        time.sleep(0.2)


def start_pair(layout: Layout, pg: Path, unit: int, say: Say) -> dict[str, int]:
    """Both servers of ``unit`` running, its database on the primary, the standby in sync;
    returns the postmaster pid per slot."""
    primary, standby = primary_slot(layout, unit), standby_slot(layout, unit)
    pids = {primary: _start_slot(layout, pg, unit, primary)}
    store.create_databases(
        admin_url(layout, slot_port(layout, unit, primary)), [layout.database(f"unit{unit}")]
    )
    standby_data = slot_data(layout, unit, standby)
    if not (standby_data / "standby.signal").exists() or (standby_data / FENCED).exists():
        say(f"unit {unit}: making its standby (pg_basebackup) ...")
        base_backup(layout, pg, unit, standby)
    pids[standby] = _start_slot(layout, pg, unit, standby)
    require_standby(layout, unit)
    return pids


def _start_slot(layout: Layout, pg: Path, unit: int, slot: str) -> int:
    return start_server(
        pg, slot_data(layout, unit, slot), layout.host, slot_port(layout, unit, slot)
    )


def require_standby(layout: Layout, unit: int, *, wait: bool = True) -> None:
    """Commits on the unit's primary wait for its standby from now on (N+1)."""
    port = slot_port(layout, unit, primary_slot(layout, unit))
    store.set_synchronous_standbys(admin_url(layout, port), standby_name(unit))
    if wait:
        wait_in_sync(layout, unit)


def fence(layout: Layout, pg: Path, unit: int, slot: str) -> None:
    """The server in ``slot`` can take no more writes: stopped (immediately: whatever it
    acknowledged is on the standby already), and marked to come back only as a standby."""
    data = slot_data(layout, unit, slot)
    stop_server(pg, data, layout.host, slot_port(layout, unit, slot), mode="immediate")
    if data.exists():
        (data / "standby.signal").touch()
        (data / FENCED).touch()  # its history may have left the new primary's: copy it anew


def promote(layout: Layout, pg: Path, unit: int, slot: str, timeout_s: float = 60) -> None:
    """The standby in ``slot`` becomes a primary that waits for no standby (N, until a new
    standby is built)."""
    port = slot_port(layout, unit, slot)
    done = _pg_ctl(pg, slot_data(layout, unit, slot), "-w", "-t", str(int(timeout_s)), "promote")
    deadline = time.monotonic() + timeout_s
    while store.in_recovery(admin_url(layout, port)):
        if time.monotonic() > deadline:
            raise ReplicationError(f"unit {unit}: promotion failed ({done.stderr!r})")
        time.sleep(0.1)
    store.set_synchronous_standbys(admin_url(layout, port), "")


def record_pair(layout: Layout, unit: int, pids: dict[str, int]) -> None:
    """The pair's servers in the cluster's state (``cluster status`` shows their roles)."""
    for slot, pid in pids.items():
        record(
            layout,
            f"pg-unit{unit}{slot}",
            kind="postgres",
            unit=unit,
            pid=pid,
            port=slot_port(layout, unit, slot),
            data=str(slot_data(layout, unit, slot)),
            role="primary" if slot == primary_slot(layout, unit) else "standby",
        )


def server_health(layout: Layout, component: dict[str, Any]) -> str:
    """A pair's server: ``ok``; ``unhealthy`` when not answering or not in its role;
    ``degraded`` for a primary whose standby is not in sync (its commits wait for it)."""
    url = admin_url(layout, int(component["port"]))
    try:
        recovering = store.in_recovery(url, unreachable=None)
        if recovering is None or recovering != (component["role"] == "standby"):
            return "unhealthy"
        if component["role"] == "primary":
            in_sync = store.sync_state(url, standby_name(int(component["unit"]))) == "sync"
            return "ok" if in_sync else "degraded"
    except Exception:
        return "unhealthy"
    return "ok"
