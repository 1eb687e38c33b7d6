"""Unit failover and the rolling upgrade on a real cluster: unit 0's database on its own
primary with a synchronous standby (two more PostgreSQL servers), unit 1 and the global
database on the shared test server, nats-server, two unit processes, two access processes.

1. Under concurrent payments and transfers (same-unit and cross-unit), unit 0's primary
   PostgreSQL is killed -9; ``failover`` fences it, promotes the standby, switches the DSN and
   restarts unit 0's process. Every unanswered request is repeated with its own request id.
   At the end: 0 fen lost or created, every acknowledged request exactly once, the ledger
   check clean, and unit 1 answered payments while unit 0 was away. ``rebuild-standby``
   then makes a new standby that is in sync.
2. ``upgrade`` restarts every process one at a time under the same load: every request is
   answered (with retries by request id) and nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from qianbao.cluster import failover, replication, store, up, upgrade
from qianbao.cluster.local import (
    CONFIG,
    Layout,
    block_layout,
    pg_bin,
    port_block,
    read_state,
    write_state,
)
from qianbao.cluster.serve import open_access_process
from tests.cluster.test_cluster import (
    USERS_PER_UNIT,
    Cluster,
    Load,
    _drop,
    _rows_per_request,
    _seed,
    _settled,
    with_timeout_wait,
)
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres
WORKERS = 6


def _layout(root: Path, prefix: str) -> Layout:
    pg_port = urlsplit(PG_URL).port or 5432
    return block_layout(
        port_block(),
        root=root,
        pg_port=pg_port,
        replica_port_base=port_block(size=2),  # unit 0's pair: two free ports of its own
        replicated_units=[0],
        db_prefix=prefix,
        extra_settings={
            "password_time_cost": 1,
            "password_memory_kib": 1024,
            "relay_interval_ms": 20,
            "message_checkback_after_s": 2,
            "unit_timeout_ms": 5000,
            "extra": {"risk": {"model": False}},
        },
    )


def _start(layout: Layout) -> Cluster:
    pg = pg_bin()
    assert pg is not None
    layout.root.mkdir(parents=True, exist_ok=True)
    (layout.root / CONFIG).write_text(layout.settings_toml())
    write_state(layout.root, {"layout": up._layout_json(layout), "components": {}})
    replication.record_pair(layout, 0, replication.start_pair(layout, pg, 0, lambda _: None))
    up.create_databases(layout)
    cluster = Cluster(layout, up.init_data(layout, demo=False, say=lambda _: None, seed=_seed))
    cluster.start_broker()
    for unit in (0, 1):
        up.start_unit(layout, unit)
    for index in (0, 1):
        up.start_access(layout, index)
    return cluster


def _stop(layout: Layout, nats_pid: int | None) -> None:
    pg = pg_bin()
    components = read_state(layout.root).get("components", {})
    pids = [int(c["pid"]) for c in components.values() if c["kind"] in ("unit", "access")]
    for pid in [*pids, *([nats_pid] if nats_pid else [])]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with_timeout_wait(pid)
    for slot in replication.SLOTS:
        port = replication.slot_port(layout, 0, slot)
        data = replication.slot_data(layout, 0, slot)
        replication.stop_server(pg or Path(), data, layout.host, port, mode="immediate")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not PG_URL or pg_bin() is None:
        pytest.skip("PostgreSQL not available (set QIANBAO_TEST_PG_URL)")
    root = Path(tempfile.mkdtemp(prefix="qb-failover-"))
    root.chmod(0o755)  # the PostgreSQL servers run as the user postgres
    prefix = f"qbf_{uuid.uuid4().hex[:8]}_"
    layout = _layout(root / "cluster", prefix)
    cluster: Cluster | None = None
    try:
        cluster = _start(layout)
        yield cluster
    finally:
        _stop(layout, cluster.pids.get("nats") if cluster else None)
        _drop(prefix)
        if not os.environ.get("QIANBAO_KEEP_CLUSTER"):
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def load(cluster: Cluster) -> Load:
    load = Load(cluster)
    load.login()
    return load


def _run(load: Load, action: Any, seed: float) -> Any:
    """``action()`` while WORKERS clients pay and transfer; returns its result and the times
    at which a payer on unit 1 was answered."""
    load.stop.clear()
    rng = random.Random(seed)
    errors: list[BaseException] = []

    def worker(seed: float) -> None:
        try:
            load.worker(seed)
        except BaseException as exc:  # an answer that is neither 200 nor 503: the test fails
            errors.append(exc)
            raise

    workers = [threading.Thread(target=worker, args=(rng.random(),)) for _ in range(WORKERS)]
    for thread in workers:
        thread.start()
    try:
        time.sleep(2.0)
        result = action()
        time.sleep(1.0)
    finally:
        load.stop.set()
        for thread in workers:
            thread.join(timeout=60)
    assert not errors, errors
    load.finish()
    return result


def _check(cluster: Cluster, load: Load) -> None:
    viewer = open_access_process(up.settings_of(cluster.layout))
    try:
        _settled(viewer.p, load)  # balances as acknowledged, nothing in transit, ledger clean
        _rows_per_request(viewer.p, load)  # one row per acknowledged request, no other
    finally:
        viewer.close()


def _pair_health(layout: Layout) -> dict[str, str]:
    return {r["name"]: r["health"] for r in up.status(layout.root) if r["name"].startswith("pg-")}


def test_killed_primary_fails_over_and_loses_nothing(cluster: Cluster, load: Load) -> None:
    layout = cluster.layout
    unit1_payers = set(load.users[USERS_PER_UNIT:])
    window: dict[str, float] = {}

    def kill_and_fail_over() -> dict[str, Any]:
        primary = read_state(layout.root)["components"]["pg-unit0a"]
        before = len(load.asks)
        window["killed"] = time.monotonic()
        os.kill(int(primary["pid"]), signal.SIGKILL)  # the primary PostgreSQL of unit 0
        time.sleep(1.0)
        done = failover.failover(layout.root, 0, say=lambda _: None)
        window["back"] = time.monotonic()
        window["asks_at_kill"] = before
        return done

    done = _run(load, kill_and_fail_over, 12.0)
    assert done["primary"] == "b" and done["fenced"] == "a"
    _check(cluster, load)
    during = [
        a
        for a in load.asks[int(window["asks_at_kill"]) :]
        if a.payer in unit1_payers and a.kind == "pay" and a.tries == 1
    ]
    assert during, "unit 1 answered no payment while unit 0 was failing over"
    assert any(a.tries > 1 for a in load.asks), "the failover interrupted no request"
    fenced = replication.slot_data(layout, 0, "a")
    assert (fenced / "standby.signal").exists()
    new_primary = f"{layout.host}:{replication.slot_port(layout, 0, 'b')},"
    assert new_primary in up.settings_of(layout).unit_database_url(0)
    assert _pair_health(layout) == {"pg-unit0b": "degraded"}  # N: no standby yet
    rebuilt = failover.rebuild_standby(layout.root, 0, say=lambda _: None)
    assert _pair_health(layout) == {"pg-unit0a": "ok", "pg-unit0b": "ok"}  # N+1 again
    assert rebuilt["standby"] == "a"
    primary_admin = replication.admin_url(layout, replication.slot_port(layout, 0, "b"))
    assert store.sync_state(primary_admin, replication.standby_name(0)) == "sync"
    print(f"failover {done['took_s']} s, rebuild {rebuilt['took_s']} s, {len(load.asks)} asks")


def test_rolling_upgrade_answers_every_request(cluster: Cluster, load: Load) -> None:
    before = len(load.asks)
    pids = {n: c["pid"] for n, c in read_state(cluster.layout.root)["components"].items()}
    took = _run(load, lambda: upgrade.upgrade(cluster.layout.root, say=lambda _: None), 13.0)
    assert list(took) == ["access0", "access1", "unit0", "unit1"]
    after = read_state(cluster.layout.root)["components"]
    assert all(after[name]["pid"] != pids[name] for name in took), "a process was not restarted"
    assert len(load.asks) > before + 20
    _check(cluster, load)
    print(f"upgrade: {took}, {len(load.asks) - before} asks")


def test_watcher_fails_over_a_dead_primary_by_itself(cluster: Cluster, load: Load) -> None:
    layout = cluster.layout
    primary = read_state(layout.root)["components"]["pg-unit0b"]  # primary since the failover
    assert primary["role"] == "primary"
    stop = threading.Event()
    done: list[dict[str, Any]] = []

    def run_watcher() -> None:
        done.extend(
            failover.watch(
                layout.root, down_after_s=1.0, interval_s=0.2, stop=stop.is_set, say=print
            )
        )

    def role_of_a() -> str:
        return str(read_state(layout.root)["components"].get("pg-unit0a", {}).get("role"))

    watcher = threading.Thread(target=run_watcher)
    watcher.start()
    try:
        time.sleep(1.0)
        assert role_of_a() == "standby", "the watcher failed over a healthy primary"
        os.kill(int(primary["pid"]), signal.SIGKILL)
        deadline = time.monotonic() + 90
        while role_of_a() != "primary" or not watcher.is_alive():
            assert watcher.is_alive(), "the watcher stopped"
            assert time.monotonic() < deadline, "the watcher did not fail over"
            time.sleep(0.2)
        failover.wait_ready(layout, "unit0")
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert done[0]["primary"] == "a"
    _run(load, lambda: time.sleep(1.0), 14.0)  # unit 0 serves again on slot a
    _check(cluster, load)
