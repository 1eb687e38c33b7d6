"""Ids that carry their route: ``<16-digit time-ordered sequence><2-digit route bucket>``.

The bucket (00–99) maps to a unit by configuration, so any id says where its data lives
without a lookup. Sequences come from the wall clock (not the business clock) in microseconds,
made strictly increasing per process.
"""

from __future__ import annotations

import threading
import time
import zlib

from qianbao.platform.errors import UnknownId

BUCKETS = 100
_lock = threading.Lock()
_last = 0


def _next_sequence() -> int:
    global _last
    with _lock:
        _last = max(_last + 1, time.time_ns() // 1000)
        return _last


def new_id(bucket: int) -> str:
    if not 0 <= bucket < BUCKETS:
        raise ValueError(f"bucket {bucket} out of range")
    return f"{_next_sequence():016d}{bucket:02d}"


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
