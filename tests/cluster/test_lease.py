"""The unit lease: one live owner per unit, on SQLite (flock) and PostgreSQL (advisory lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qianbao.platform.lease import LeaseHeld, acquire
from tests.conftest import empty_database_url

HOLD = """
import sys, time
from qianbao.platform.lease import acquire
lease = acquire(sys.argv[1], int(sys.argv[2]))
print("held", flush=True)
time.sleep(60)
"""


def _holder(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, "0"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_second_owner_refuses_and_names_the_holder(engine: str, tmp_path: Path) -> None:
    url = empty_database_url(engine, tmp_path, "unit0.db")
    first = acquire(url, 0)
    try:
        with pytest.raises(LeaseHeld) as refused:
            acquire(url, 0)
        assert f"pid {os.getpid()}" in str(refused.value)
        assert "refusing to start a second owner" in str(refused.value)
        assert refused.value.unit == 0
        assert first.alive()
        other = acquire(url, 1) if engine == "postgres" else None  # another unit is free
        if other is not None:
            other.release()
    finally:
        first.release()
    again = acquire(url, 0)  # released: the next owner gets it
    again.release()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_killed_owner_frees_the_unit(engine: str, tmp_path: Path) -> None:
    url = empty_database_url(engine, tmp_path, "unit0.db")
    proc = _holder(url)
    try:
        with pytest.raises(LeaseHeld) as refused:
            acquire(url, 0)
        assert f"pid {proc.pid}" in str(refused.value)
    finally:
        proc.kill()  # kill -9: no clean-up runs in the holder
        proc.wait()
    lease = acquire(url, 0, wait_s=10)  # the server / kernel dropped the dead owner's lock
    assert lease.alive()
    lease.release()


def test_the_watchdog_reports_a_lost_pg_lease(tmp_path: Path) -> None:
    url = empty_database_url("postgres", tmp_path, "unit0.db")
    lease = acquire(url, 0)
    lost: list[int] = []
    lease.watch(lambda held: lost.append(held.unit), interval_s=0.05)
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:  # an operator ends the session
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name LIKE 'qb-lease u0 %%' AND datname = current_database()"
        )
    deadline = time.monotonic() + 5
    while not lost and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lost == [0]
    lease.release()


def test_the_fence_waits_for_a_predecessor_writer_session(tmp_path: Path) -> None:
    """A predecessor that lost its lease session while frozen still has its writer session:
    the successor's writer cannot take the fence until that session is gone."""
    import psycopg

    from qianbao.platform.db import Database
    from qianbao.platform.lease import FENCE_CLASS, fence_writer
    from qianbao.platform.writer import UnitWriter

    url = empty_database_url("postgres", tmp_path, "unit0.db")
    frozen = psycopg.connect(url, autocommit=True)  # the old owner's writer session
    frozen.execute("SELECT pg_advisory_lock(%s, 0)", (FENCE_CLASS,))
    db = Database(url)
    writer = UnitWriter(0, db, None)
    writer.start()
    try:
        with pytest.raises(LeaseHeld, match="previous owner's writer session"):
            fence_writer(writer, 0, wait_s=0.5)
        frozen.close()  # the old session ends (its process finally died)
        fence_writer(writer, 0, wait_s=10)
        again = psycopg.connect(url, autocommit=True)
        try:
            taken = again.execute("SELECT pg_try_advisory_lock(%s, 0)", (FENCE_CLASS,)).fetchone()
            assert taken == (False,)  # the new writer's session holds it now
        finally:
            again.close()
    finally:
        writer.stop()
        db.close()
