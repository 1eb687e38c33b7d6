"""Id nodes: each long-running process of a cluster claims its own last digit of the id
sequence (``platform/ids.py``) for its lifetime, so two processes never make the same id.

A node is a lock held for the process's life in the global database, which every process of a
deployment shares (ADR 0417):

* PostgreSQL: the session-level advisory lock ``(ID_NODE_CLASS, node)`` on a dedicated
  connection, dropped by the server the moment the process ends (killed -9 included);
* SQLite: an exclusive ``flock`` on ``<global db>.idnode-<node>``, dropped by the kernel.

Node 0 is left to one-off processes (the embedded server, CLI commands): a cluster's servers
take 1–9, so a cluster has room for nine serving processes per global database; a tenth is
refused with a clear message instead of risking a duplicate id.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path
from typing import Any

from qianbao.platform import ids

ID_NODE_CLASS = 0x51B2  # the advisory lock's first key: "qianbao id node"; the second is the node
SERVER_NODES = range(1, ids.NODES)


class NoFreeIdNode(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"every id node ({SERVER_NODES.start}-{SERVER_NODES.stop - 1}) is held by another"
            " running process of this deployment; stop one before starting another"
        )


class IdNode:
    """A claimed node; ``release`` gives it back (the process ending does too)."""

    def __init__(self, node: int, holder: Any) -> None:
        self.node = node
        self._holder = holder  # the PostgreSQL connection or the lock file's descriptor

    def release(self) -> None:
        if isinstance(self._holder, int):
            with contextlib.suppress(OSError):
                os.close(self._holder)
        else:
            with contextlib.suppress(Exception):
                self._holder.close()


def _claim_pg(conninfo: str) -> IdNode:
    import psycopg

    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute("SELECT set_config('application_name', %s, false)", (f"qb-idnode {os.getpid()}",))
    for node in SERVER_NODES:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (ID_NODE_CLASS, node)).fetchone()
        if got and got[0]:
            return IdNode(node, conn)
    conn.close()
    raise NoFreeIdNode


def _claim_file(db_path: Path) -> IdNode:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for node in SERVER_NODES:
        fd = os.open(db_path.with_name(f"{db_path.name}.idnode-{node}"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return IdNode(node, fd)
    raise NoFreeIdNode


def claim(global_url: str) -> IdNode:
    """A free server node in the deployment whose global database is ``global_url``, or
    ``NoFreeIdNode``. The caller makes it this process's node with ``ids.use_node``."""
    if global_url.startswith("postgres"):
        return _claim_pg(re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", global_url))
    return _claim_file(Path(global_url.removeprefix("sqlite:///")))


def claim_for_this_process(global_url: str) -> IdNode:
    """Claim a node and make every id this process makes from now on end in it."""
    held = claim(global_url)
    ids.use_node(held.node)
    return held
