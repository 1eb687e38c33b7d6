"""The unit lease: exactly one live owner (one writer) per unit database.

A unit process takes its unit's lease before it starts the writer and keeps it for as long as
it runs (docs/decisions/0400-unit-processes.md):

* PostgreSQL: a session-level advisory lock, ``pg_try_advisory_lock(LEASE_CLASS, unit)``, held
  on a dedicated connection that stays open. The server drops the lock the moment that session
  ends (the process exits or is killed -9, its socket closes), so a crashed owner never blocks
  its successor. The holder's description rides in the session's ``application_name``, which a
  refused contender reads back from ``pg_stat_activity``.
* SQLite: an exclusive ``fcntl.flock`` on ``<db>.lease`` beside the database file, released by
  the kernel when the process dies; the holder writes its description into the file.

The fence (``fence_writer``): the unit writer's own session also takes an advisory lock before
the process serves, so a successor can only write once the predecessor's writer session has
ended, even if the predecessor lost its lease session while frozen.

A second owner gets ``LeaseHeld`` naming the holder (pid, host, start time). A watchdog checks
the PostgreSQL lease connection every second; if it is lost (the server restarted, the network
broke) the lock may already belong to someone else, so the process must stop writing at once:
``on_lost`` is called (the unit process exits).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("qianbao.lease")
LEASE_CLASS = 0x51B0  # the advisory lock's first key: "qianbao unit lease"; the second is the unit
FENCE_CLASS = 0x51B1  # the same, held by the unit writer's own session (the fence)
WATCH_INTERVAL_S = 1.0


class LeaseHeld(RuntimeError):
    """Another live process owns the unit."""

    def __init__(self, unit: int, holder: str) -> None:
        super().__init__(
            f"unit {unit} is already owned by {holder}; refusing to start a second owner"
        )
        self.unit = unit
        self.holder = holder


def _describe(unit: int) -> dict[str, Any]:
    return {
        "unit": unit,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _holder_text(info: dict[str, Any]) -> str:
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('started_at')}"


class Lease:
    """A held lease; ``release`` gives it up (closing the process does too)."""

    def __init__(self, unit: int, info: dict[str, Any]) -> None:
        self.unit = unit
        self.info = info
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def holder(self) -> str:
        return _holder_text(self.info)

    def alive(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        self._stop.set()

    def watch(self, on_lost: Callable[[Lease], None], interval_s: float = WATCH_INTERVAL_S) -> None:
        """Check the lease every ``interval_s`` on a thread and call ``on_lost`` once if it is
        gone (a released lease is not lost)."""

        def run() -> None:
            while not self._stop.wait(interval_s):
                if not self.alive() and not self._stop.is_set():
                    log.critical("unit %s lease lost; this process must stop writing", self.unit)
                    on_lost(self)
                    return

        self._watch = threading.Thread(target=run, name=f"lease-u{self.unit}", daemon=True)
        self._watch.start()


class FileLease(Lease):
    """An exclusive flock on ``<db>.lease`` (SQLite units)."""

    def __init__(self, unit: int, info: dict[str, Any], fd: int, path: Path) -> None:
        super().__init__(unit, info)
        self.fd, self.path = fd, path

    def alive(self) -> bool:
        return self.fd >= 0

    def release(self) -> None:
        super().release()
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = -1


class PgLease(Lease):
    """A session-level advisory lock on a dedicated connection (PostgreSQL units)."""

    def __init__(self, unit: int, info: dict[str, Any], conn: Any) -> None:
        super().__init__(unit, info)
        self.conn = conn
        self._lock = threading.Lock()

    def alive(self) -> bool:
        with self._lock:
            if self.conn.closed:
                return False
            try:
                held = self.conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())",
                    (LEASE_CLASS, self.unit),
                ).fetchone()
            except Exception:
                return False
            return bool(held and held[0])

    def release(self) -> None:
        super().release()
        with self._lock, contextlib.suppress(Exception):
            self.conn.close()  # ending the session releases the advisory lock


def acquire_file(path: Path, unit: int) -> FileLease:
    """Take the lock file beside a SQLite unit database, or raise ``LeaseHeld``."""
    lease_path = path.with_name(path.name + ".lease")
    lease_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lease_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raw = os.pread(fd, 4096, 0)
        os.close(fd)
        try:
            holder = _holder_text(json.loads(raw.decode() or "{}"))
        except ValueError:
            holder = "another process (its lease file is unreadable)"
        raise LeaseHeld(unit, holder) from None
    info = _describe(unit)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    os.fsync(fd)
    return FileLease(unit, info, fd, lease_path)


def _app_name(info: dict[str, Any]) -> str:
    # application_name holds at most 63 bytes: "qb-lease u0 pid 12345 host 2026-12-02T13:35:24Z"
    host = re.sub(r"[^A-Za-z0-9.-]", "", str(info["host"]))[:16]
    return f"qb-lease u{info['unit']} pid {info['pid']} {host} {info['started_at']}"[:63]


def _pg_holder(conn: Any, unit: int) -> str:
    row = conn.execute(
        "SELECT a.application_name, a.client_addr::text, a.backend_start FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (LEASE_CLASS, unit),
    ).fetchone()
    if row is None:
        return "another session (it ended while we looked)"
    name, addr, started = row
    match = re.match(r"qb-lease u\d+ pid (\d+) (\S*) (\S+)", name or "")
    if match:
        return f"pid {match[1]} on {match[2]} since {match[3]} (client {addr or 'local'})"
    return f"session {name!r} from {addr or 'local'} since {started}"


def acquire_pg(conninfo: str, unit: int) -> PgLease:
    """Take the unit's advisory lock on a new dedicated connection, or raise ``LeaseHeld``."""
    import psycopg

    conn = psycopg.connect(conninfo, autocommit=True)
    info = _describe(unit)
    conn.execute("SELECT set_config('application_name', %s, false)", (_app_name(info),))
    got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LEASE_CLASS, unit)).fetchone()
    if not (got and got[0]):
        try:
            holder = _pg_holder(conn, unit)
        finally:
            conn.close()
        raise LeaseHeld(unit, holder)
    return PgLease(unit, info, conn)


def fence_writer(writer: Any, unit: int, *, wait_s: float = 10.0) -> None:
    """Take the unit's fence lock on the writer's own PostgreSQL session (``writer`` is the
    unit's ``UnitWriter``), so no two writer sessions can ever both be live for a unit: a
    predecessor frozen past the loss of its lease still holds the fence on its writer session,
    and this process waits (up to ``wait_s``, then ``LeaseHeld``) until that session is gone.
    Session-level advisory locks survive the batch's commit (and a rollback) until the session
    ends."""

    def take(ctx: Any) -> bool:
        return bool(
            ctx.tx.scalar("SELECT pg_try_advisory_lock(:c, :u)", {"c": FENCE_CLASS, "u": unit})
        )

    deadline = time.monotonic() + wait_s
    while not writer.submit(take):
        if time.monotonic() >= deadline:
            raise LeaseHeld(unit, "a previous owner's writer session (still connected)")
        time.sleep(0.2)


def acquire(url: str, unit: int, *, wait_s: float = 0.0) -> Lease:
    """The lease of ``unit`` whose database is ``url``; with ``wait_s`` it retries for that long
    (a restarted owner whose predecessor's session is still being torn down)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if url.startswith("postgres"):
                return acquire_pg(re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url), unit)
            return acquire_file(Path(url.removeprefix("sqlite:///")), unit)
        except LeaseHeld:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
