"""``qianbao cluster upgrade``: every process restarted on the code now installed, one at a
time, with no request failing (docs/operations.md, "Rolling upgrade"; docs/decisions/
0932-rolling-upgrade-and-expand-contract.md).

Access processes first: each is stopped with SIGTERM (it stops accepting, answers what it
has in flight and exits) while the others keep serving the shared public port
(SO_REUSEPORT), then started again and waited for until healthy. Then each unit: its process
is drained the same way (no new commands, in-flight batches finished and committed, the lease
released as it exits), a new process takes the lease and is waited for until healthy. While a
unit is away the access layer holds its commands for a moment (``unit_retry_window_ms``) and
then answers 503 with Retry-After; a client repeats with the same request id.

Old and new code run side by side during an upgrade, so schema migrations are written
expand-then-contract (docs/operations.md): a release only adds; what it stops using is
removed by a later release, once no process of the old code runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qianbao.cluster import up
from qianbao.cluster.failover import FailoverError, wait_ready
from qianbao.cluster.local import layout_of, pid_alive, read_state, stop_pid

Say = Callable[[str], None]
DRAIN_WAIT_S = 30.0


def _restart(root: Path, name: str, say: Say) -> float:
    state = read_state(root)
    layout = layout_of(state)
    component = state["components"][name]
    started = time.monotonic()
    if pid_alive(int(component["pid"])):
        stop_pid(int(component["pid"]), timeout_s=DRAIN_WAIT_S)
    index = int(name.removeprefix(component["kind"]))
    if component["kind"] == "access":
        up.start_access(layout, index)
    else:
        up.start_unit(layout, index)
    wait_ready(layout, name)
    took_s = time.monotonic() - started
    say(f"{name}: restarted in {took_s:.1f} s")
    return took_s


def upgrade(root: Path, *, say: Say = print) -> dict[str, Any]:
    """Restart every access process, then every unit process, one at a time; returns how long
    each was away."""
    components = read_state(root).get("components", {})
    if not components:
        raise FailoverError(f"no cluster in {root}")
    order = sorted(
        (name for name, c in components.items() if c["kind"] in ("access", "unit")),
        key=lambda name: (components[name]["kind"] != "access", name),
    )
    return {name: round(_restart(root, name, say), 2) for name in order}
