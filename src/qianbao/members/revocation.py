"""Revocation across processes: one epoch in the global database, raised by every revocation.

Tokens and API keys are answered from per-process caches (``p.token_cache``, ``p.key_cache``)
so an API call saves a global-database read. A revocation clears this process's caches at once
and raises the epoch; every other process (an access-layer copy, a unit process) reads the
epoch at most once per ``revocation_check_ms`` (default 1 s) on its next authentication and,
when it moved, drops its caches. So a revoked credential is refused everywhere within a second,
at the cost of one indexed read per process per second.
"""

from __future__ import annotations

import threading
import time

from qianbao.members import store
from qianbao.platform.db import Tx
from qianbao.platform.runtime import Platform

KIND = "credentials"
_lock = threading.Lock()


def forget_cached(p: Platform) -> None:
    p.token_cache.clear()
    p.key_cache.clear()


def revoked_in(tx: Tx, p: Platform) -> None:
    """Call in the transaction that revokes: the epoch moves with the revocation (both or
    neither), and this process forgets its cached credentials now."""
    store.bump_epoch(tx, KIND)
    forget_cached(p)


def refresh(p: Platform) -> None:
    """Before answering from a cache: look at the epoch if the last look is older than the
    interval, and drop the caches if another process revoked something since."""
    now_ms = int(time.monotonic() * 1000)
    state = p.revocation_state  # [monotonic ms of the last look, the epoch seen]
    if 0 <= now_ms - state[0] < p.settings.revocation_check_ms:
        return
    with _lock:
        if 0 <= now_ms - state[0] < p.settings.revocation_check_ms:
            return
        with p.global_db.read() as tx:
            epoch = store.read_epoch(tx, KIND)
        if epoch != state[1]:
            forget_cached(p)
        state[0], state[1] = now_ms, epoch
