"""``qianbao cluster failover --unit N`` and ``qianbao cluster rebuild-standby --unit N``
(docs/operations.md, "Failover"; docs/decisions/0931-manual-failover.md).

Failover, in this order, each step safe to run again:

1. the unit process is stopped if it still runs (SIGTERM: it drains, then gives up its lease;
   after a dead primary it has already exited on its own, its lease session being gone);
2. the old primary is fenced: stopped, and marked with ``standby.signal`` so that it can only
   ever come back read-only;
3. the standby is promoted and stops waiting for a standby of its own (N until rebuilt);
4. the route of unit → DSN is switched: the new primary first in the unit's URL in the
   cluster's configuration file (processes that keep running find it anyway: the URL lists
   both servers with ``target_session_attrs=primary``);
5. the unit process is started against the new primary (it takes the unit's lease there) and
   is waited for until it answers healthy.

While the unit is away the access layer answers its commands ``503 UNIT_UNAVAILABLE`` with
Retry-After; a client repeats them with the same request id, and the unit's idempotency
records (committed on both servers before any answer) answer a repeat of anything that was
applied, so nothing is lost or applied twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qianbao.cluster import replication, up
from qianbao.cluster.local import (
    CONFIG,
    Layout,
    layout_of,
    pg_bin,
    pid_alive,
    read_state,
    stop_pid,
    write_state,
)

Say = Callable[[str], None]
READY_WAIT_S = 60.0


class FailoverError(RuntimeError):
    """The unit cannot be failed over (not replicated, no standby, no cluster)."""


def _cluster(root: Path, unit: int) -> tuple[Layout, Path]:
    state = read_state(root)
    if not state:
        raise FailoverError(f"no cluster in {root}")
    layout = layout_of(state)
    if not replication.is_replicated(layout, unit):
        raise FailoverError(
            f"unit {unit} has no standby (replicated units: {layout.replicated_units})"
        )
    pg = pg_bin()
    if pg is None:
        raise FailoverError("PostgreSQL is not installed")
    return layout, pg


def switch_route(layout: Layout, unit: int, primary: str) -> None:
    """Unit ``unit``'s primary is now ``primary``: in the state and the configuration file."""
    layout.unit_primary = {**layout.unit_primary, str(unit): primary}
    state = read_state(layout.root)
    state["layout"] = up._layout_json(layout)
    write_state(layout.root, state)
    config = layout.root / CONFIG
    tmp = config.with_name(config.name + ".tmp")
    tmp.write_text(layout.settings_toml())
    tmp.replace(config)


def stop_unit_process(layout: Layout, unit: int, say: Say) -> None:
    component = read_state(layout.root).get("components", {}).get(f"unit{unit}")
    if component and pid_alive(int(component["pid"])):
        stop_pid(int(component["pid"]), timeout_s=15)
        say(f"unit {unit}: stopped its process (pid {component['pid']})")


def wait_ready(layout: Layout, name: str, timeout_s: float = READY_WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        component = read_state(layout.root)["components"][name]
        if up.health(layout, name, component) == "ok":
            return
        if time.monotonic() > deadline:
            raise FailoverError(f"{name} is not healthy after {timeout_s:.0f} s")
        time.sleep(0.1)


def failover(root: Path, unit: int, *, say: Say = print) -> dict[str, Any]:
    """Move unit ``unit`` to its standby; returns what was done and how long it took."""
    layout, pg = _cluster(root, unit)
    started = time.monotonic()
    old, new = replication.primary_slot(layout, unit), replication.standby_slot(layout, unit)
    stop_unit_process(layout, unit, say)
    replication.fence(layout, pg, unit, old)
    say(f"unit {unit}: fenced the old primary (slot {old})")
    replication.promote(layout, pg, unit, new)
    say(f"unit {unit}: promoted slot {new}")
    switch_route(layout, unit, new)
    replication.record_pair(
        layout, unit, {new: replication.server_pid(replication.slot_data(layout, unit, new)) or 0}
    )
    _forget(layout, f"pg-unit{unit}{old}")
    up.start_unit(layout, unit)
    wait_ready(layout, f"unit{unit}")
    took_s = round(time.monotonic() - started, 2)
    say(f"unit {unit}: serving on slot {new} after {took_s} s; rebuild its standby next")
    return {"unit": unit, "primary": new, "fenced": old, "took_s": took_s}


def _forget(layout: Layout, name: str) -> None:
    state = read_state(layout.root)
    state.get("components", {}).pop(name, None)
    write_state(layout.root, state)


def rebuild_standby(root: Path, unit: int, *, say: Say = print) -> dict[str, Any]:
    """A new standby from the current primary, in sync before this returns (N+1 again)."""
    layout, pg = _cluster(root, unit)
    started = time.monotonic()
    slot = replication.standby_slot(layout, unit)
    data = replication.slot_data(layout, unit, slot)
    replication.stop_server(pg, data, layout.host, replication.slot_port(layout, unit, slot))
    replication.base_backup(layout, pg, unit, slot)
    pid = replication.start_server(pg, data, layout.host, replication.slot_port(layout, unit, slot))
    replication.record_pair(layout, unit, {slot: pid})
    replication.require_standby(layout, unit)
    took_s = round(time.monotonic() - started, 2)
    say(f"unit {unit}: standby in slot {slot} is in sync after {took_s} s")
    return {"unit": unit, "standby": slot, "took_s": took_s}


# --- automatic failover ----------------------------------------------------------------------
def _server(layout: Layout, unit: int, slot: str) -> dict[str, Any]:
    component = read_state(layout.root).get("components", {}).get(f"pg-unit{unit}{slot}")
    return component or {"role": "gone"}


def primary_lost(layout: Layout, unit: int) -> bool:
    """Unit ``unit``'s primary does not answer as a primary while its standby answers as a
    standby: the one case the watcher fails over (a dead standby is rebuilt, not promoted)."""
    primary = _server(layout, unit, replication.primary_slot(layout, unit))
    standby = _server(layout, unit, replication.standby_slot(layout, unit))
    if standby.get("role") != "standby" or replication.server_health(layout, standby) != "ok":
        return False
    return primary.get("role") != "primary" or replication.server_health(layout, primary) not in (
        "ok",
        "degraded",
    )


def watch(
    root: Path,
    *,
    down_after_s: float = 3.0,
    interval_s: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
    say: Say = print,
) -> list[dict[str, Any]]:
    """Fail over every replicated unit whose primary has been lost for ``down_after_s``
    (checked every ``interval_s``) until ``stop()``; returns the failovers done."""
    lost_since: dict[int, float] = {}
    done: list[dict[str, Any]] = []
    while not stop():
        layout = layout_of(read_state(root))
        for unit in layout.replicated_units:
            if not primary_lost(layout, unit):
                lost_since.pop(unit, None)
                continue
            since = lost_since.setdefault(unit, time.monotonic())
            if time.monotonic() - since >= down_after_s:
                say(f"unit {unit}: primary lost for {down_after_s:.0f} s; failing over")
                done.append(failover(root, unit, say=say))
                lost_since.pop(unit, None)
        time.sleep(interval_s)
    return done
