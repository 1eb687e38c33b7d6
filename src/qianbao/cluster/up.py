"""``qianbao cluster up | status | down``: the local cluster's life cycle (see ``local.py``)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from qianbao.bootstrap import migrate, open_platform
from qianbao.cluster import replication, store
from qianbao.cluster.local import (
    CONFIG,
    Layout,
    _as_postgres,
    ensure_tools,
    layout_of,
    pg_bin,
    pid_alive,
    port_open,
    read_state,
    record,
    spawn,
    stop_pid,
    wait_port,
    write_state,
)
from qianbao.cluster.serve import take_leases
from qianbao.platform.global_cache import install_triggers
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings, load_settings

Say = Callable[[str], None]


class PortTaken(RuntimeError):
    """A port the cluster needs is used by a process that is not part of it."""


def check_ports(layout: Layout, running: set[str]) -> None:
    """Every port a component still to start will listen on must be free."""
    wanted = {f"unit{u}": layout.unit_port_base + u for u in range(layout.units)}
    wanted |= {f"access{a}": layout.access_port_base + a for a in range(layout.access)}
    wanted["nats"] = layout.nats_port
    if not running & {f"access{a}" for a in range(layout.access)}:
        wanted["the public address"] = layout.port
    for name, port in wanted.items():
        if name not in running and port_open(layout.host, port):
            raise PortTaken(f"{layout.host}:{port} (for {name}) is used by another process")


def settings_of(layout: Layout) -> Settings:
    return load_settings(layout.root / CONFIG)


def start_postgres(layout: Layout, pg: Path) -> int:
    """The shared server: the global database and every unit that is not replicated."""
    data = layout.pg_data.resolve()
    if replication.server_pid(data) is None and port_open(layout.host, layout.pg_port):
        raise PortTaken(f"port {layout.pg_port} is used by another server; choose --pg-port")
    return replication.start_server(pg, data, layout.host, layout.pg_port)


def create_databases(layout: Layout) -> None:
    store.create_databases(
        layout.pg_url("postgres"),
        [
            layout.database("global"),
            *(
                layout.database(f"unit{u}")
                for u in range(layout.units)
                if not replication.is_replicated(layout, u)
            ),
        ],
    )


def init_data(
    layout: Layout, *, demo: bool, say: Say, seed: Callable[[Platform], Any] | None = None
) -> Any:
    """Migrations, the cache triggers, every unit's platform accounts and the demo data (or
    what ``seed`` creates), with every unit's lease held (so never beside a running unit
    process)."""
    settings = settings_of(layout)
    migrate(settings)
    install_triggers(settings.global_database_url)
    embedded = settings.with_(unit_endpoints=(), owned_units=())
    leases = take_leases(embedded, tuple(range(embedded.unit_count)), wait_s=0)
    try:
        p = open_platform(embedded, run_migrations=False, start=False)
        try:
            if seed is not None:
                return seed(p)
            if not demo:
                return None
            from qianbao.demo import load_demo

            data, created = load_demo(p)
            say("demo data loaded" if created else "demo data already loaded")
            return data
        finally:
            p.close()
    finally:
        for lease in leases:
            lease.release()


def start_nats(layout: Layout, nats: Path) -> int:
    store = (layout.root / "nats").resolve()
    store.mkdir(parents=True, exist_ok=True)
    conf = layout.root / "nats.conf"
    conf.write_text(
        f"listen: {layout.host}:{layout.nats_port}\n"
        f"http: {layout.host}:{layout.nats_port + 4000}\n"
        f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: always\n}}\n'
    )
    pid = spawn(layout, "nats", [str(nats), "-c", str(conf)])
    wait_port(layout.host, layout.nats_port, pid, 20, "nats-server")
    return pid


def _python(module_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "qianbao.cluster.run", *module_args]


def start_unit(layout: Layout, unit: int) -> int:
    env = {"QIANBAO_CONFIG": str((layout.root / CONFIG).resolve())}
    pid = spawn(layout, f"unit{unit}", _python(["unit", str(unit), "10"]), env)
    wait_port(layout.host, layout.unit_port_base + unit, pid, 60, f"unit {unit}")
    record(layout, f"unit{unit}", kind="unit", pid=pid, port=layout.unit_port_base + unit)
    return pid


def start_access(layout: Layout, index: int) -> int:
    env = {"QIANBAO_CONFIG": str((layout.root / CONFIG).resolve())}
    private = layout.access_port_base + index
    pid = spawn(layout, f"access{index}", _python(["access", str(layout.port), str(private)]), env)
    wait_port(layout.host, private, pid, 60, f"access {index}")
    record(layout, f"access{index}", kind="access", pid=pid, port=layout.port, private_port=private)
    return pid


def up(layout: Layout, *, demo: bool = True, nats: bool = True, say: Say = print) -> dict[str, Any]:
    """Start what is not running yet; returns the state (what runs where)."""
    pg, nats_bin = ensure_tools(say)
    layout.root.mkdir(parents=True, exist_ok=True)
    previous = read_state(layout.root).get("layout", {})  # which slot a failover made primary
    layout.unit_primary = {**previous.get("unit_primary", {}), **layout.unit_primary}
    (layout.root / CONFIG).write_text(layout.settings_toml())
    write_state(layout.root, {**read_state(layout.root), "layout": _layout_json(layout)})
    record(layout, "postgres", kind="postgres", pid=start_postgres(layout, pg), port=layout.pg_port)
    create_databases(layout)
    for unit in layout.replicated_units:
        replication.record_pair(layout, unit, replication.start_pair(layout, pg, unit, say))
    state = read_state(layout.root)
    running = {n for n, c in state.get("components", {}).items() if pid_alive(int(c["pid"]))}
    check_ports(layout, running)
    if not running & {f"unit{u}" for u in range(layout.units)}:
        init_data(layout, demo=demo, say=say)
    if nats and "nats" not in running:
        record(layout, "nats", kind="nats", pid=start_nats(layout, nats_bin), port=layout.nats_port)
    for unit in range(layout.units):
        if f"unit{unit}" not in running:
            start_unit(layout, unit)
    for index in range(layout.access):
        if f"access{index}" not in running:
            start_access(layout, index)
    return read_state(layout.root)


def _layout_json(layout: Layout) -> dict[str, Any]:
    return {**asdict(layout), "root": str(layout.root)}


def health(layout: Layout, name: str, component: dict[str, Any]) -> str:
    """ok | down | unhealthy: the process, its port, and its own health answer."""
    if not pid_alive(int(component["pid"])):
        return "down"
    kind, host = component["kind"], layout.host
    try:
        if kind == "unit":
            answer = httpx.get(f"http://{host}:{component['port']}/unit/v1/health", timeout=2)
            return "ok" if answer.json().get("status") == "ok" else "unhealthy"
        if kind == "access":
            answer = httpx.get(f"http://{host}:{component['private_port']}/healthz", timeout=2)
            return "ok" if answer.status_code == 200 else "unhealthy"
        if kind == "nats":
            answer = httpx.get(f"http://{host}:{component['port'] + 4000}/healthz", timeout=2)
            return "ok" if answer.status_code == 200 else "unhealthy"
    except (httpx.HTTPError, ValueError):
        return "unhealthy"
    if kind == "postgres" and "role" in component:  # a replicated unit's server
        return replication.server_health(layout, component)
    return "ok" if port_open(host, int(component["port"])) else "unhealthy"


def status(root: Path) -> list[dict[str, Any]]:
    state = read_state(root)
    if not state:
        return []
    layout = layout_of(state)
    return [
        {"name": name, **component, "health": health(layout, name, component)}
        for name, component in sorted(state.get("components", {}).items())
    ]


def down(root: Path, *, say: Say = print) -> int:
    """Stop every component by its pid (access layer first, PostgreSQL last)."""
    state = read_state(root)
    if not state:
        return 0
    layout = layout_of(state)
    order = {"access": 0, "unit": 1, "nats": 2, "postgres": 3}
    stopped = 0
    for name, component in sorted(
        state.get("components", {}).items(), key=lambda item: order[item[1]["kind"]]
    ):
        if component["kind"] == "postgres" and "data" in component:  # a replicated unit's
            stopped += replication.stop_server(
                pg_bin() or Path(), Path(component["data"]), layout.host, int(component["port"])
            )
        elif component["kind"] == "postgres":
            stopped += _stop_postgres(layout)
        elif stop_pid(int(component["pid"])):
            stopped += 1
            say(f"stopped {name} (pid {component['pid']})")
    write_state(root, {"layout": state["layout"], "components": {}})
    return stopped


def _stop_postgres(layout: Layout) -> int:
    pg = pg_bin()
    data = layout.pg_data.resolve()
    if pg is None or not (data / "postmaster.pid").exists():
        return 0
    subprocess.run(
        [*_as_postgres(), str(pg / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while port_open(layout.host, layout.pg_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    return 1
