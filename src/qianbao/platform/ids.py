"""Ids that carry their route: ``<16-digit time-ordered sequence><2-digit route bucket>``.

The bucket (00–99) maps to a unit by configuration, so any id says where its data lives
without a lookup. Sequences come from the wall clock (not the business clock) in microseconds,
made strictly increasing per process. The last digit of the sequence is the process's id node
(0–9): a process counts in steps of 10 µs on its own digit, so two processes never make the
same id even in the same microsecond and bucket. One-off processes (the embedded server, CLI
commands) are node 0; each long-running process of a cluster claims a free node 1–9 for its
lifetime (``platform/id_nodes.py``, ADR 0417).
"""

from __future__ import annotations

import threading
import time
import zlib

from qianbao.platform.errors import UnknownId

BUCKETS = 100
NODES = 10  # the sequence's last digit


class Sequence:
    """Strictly increasing sequences ending in ``node``: the wall clock in units of 10 µs, then
    the node digit. It runs ahead of the clock only past 100,000 ids a second."""

    def __init__(self, node: int = 0) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self.node = 0
        self.use_node(node)

    def use_node(self, node: int) -> None:
        if not 0 <= node < NODES:
            raise ValueError(f"id node {node} out of range 0-{NODES - 1}")
        with self._lock:
            self.node = node
            self._last = (self._last // NODES + 1) * NODES + node  # still above every earlier one

    def next(self) -> int:
        with self._lock:
            now = time.time_ns() // 10_000 * NODES + self.node
            self._last = now if now > self._last else self._last + NODES
            return self._last


_sequence = Sequence()  # one per process: ids are unique per (process node, sequence)


def use_node(node: int) -> None:
    """This process's id node, for the rest of its life (``platform/id_nodes.py``)."""
    _sequence.use_node(node)


def current_node() -> int:
    return _sequence.node


def new_id(bucket: int) -> str:
    if not 0 <= bucket < BUCKETS:
        raise ValueError(f"bucket {bucket} out of range")
    return f"{_sequence.next():016d}{bucket:02d}"


def created_ms(entity_id: str) -> int | None:
    """When one of our ids was made (wall clock, ms): its sequence is the time in microseconds.
    None for any other string."""
    if len(entity_id) != 18 or not (entity_id.isascii() and entity_id.isdigit()):
        return None
    return int(entity_id[:16]) // 1000


def bucket_of(entity_id: str) -> int:
    """The route bucket of one of our ids; any other string is ``UnknownId`` (a 404)."""
    tail = entity_id[-2:]
    if len(entity_id) < 3 or not (tail.isascii() and tail.isdigit()):
        raise UnknownId(f"{entity_id[:64]!r} is not an id of this platform")
    return int(entity_id[-2:])


def bucket_for_key(key: str) -> int:
    """A stable bucket for a natural key (a phone number, a merchant name)."""
    return zlib.crc32(key.encode()) % BUCKETS
