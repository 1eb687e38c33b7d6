"""The route table: which unit is home to each route bucket (configuration, not a formula).

An id ends in its bucket (``platform/ids.py``); the table maps the 100 buckets to units. The
setting ``route_table`` writes it as ranges, ``"0-49:0,50-99:1"``; empty means the even split
``bucket * units // BUCKETS`` that the platform always used, so existing data keeps its homes.
Moving buckets to another unit is a data migration (the rows move with them), never just an
edit of this setting: docs/decisions/0401-route-table.md.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from qianbao.platform.errors import BucketMoving
from qianbao.platform.ids import BUCKETS

_threads = threading.local()


def mark_internal_thread() -> None:
    """This thread is the platform's own (a unit writer, the relay): a paused bucket's gate
    (``Platform.unit_of``) does not apply to it, so a move can drain what is in flight."""
    _threads.internal = True


def is_internal_thread() -> bool:
    return bool(getattr(_threads, "internal", False))


def _is_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 18 and value.isdigit()


def check_command(paused: frozenset[int], command: Any) -> None:
    """``BucketMoving`` when a caller's command names an id (18 digits: sequence and bucket) of
    a paused bucket: the writer's own check, taken under the platform's ``route_gate`` with the
    queue put, so no command that passed ``unit_of`` before a pause reaches the queue after the
    move's barrier (ADR 0935). The platform's own threads pass."""
    if not paused or is_internal_thread():
        return
    data = getattr(command, "command", command)
    if not dataclasses.is_dataclass(data):
        return
    for field in dataclasses.fields(data):
        value = getattr(data, field.name)
        if _is_id(value) and int(value[-2:]) in paused:
            raise BucketMoving(f"bucket {value[-2:]} is moving to another unit; retry shortly")


class RouteTableError(ValueError):
    """The ``route_table`` setting does not map every bucket to exactly one existing unit."""


def even_split(units: int) -> tuple[int, ...]:
    return tuple(bucket * units // BUCKETS for bucket in range(BUCKETS))


def parse_route_table(spec: str, units: int) -> tuple[int, ...]:
    """The table as a tuple indexed by bucket; ``RouteTableError`` names what is wrong."""
    if units < 1:
        raise RouteTableError("unit_count must be at least 1")
    if not spec.strip():
        return even_split(units)
    table: list[int | None] = [None] * BUCKETS
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        buckets, _, unit_text = part.partition(":")
        first_text, _, last_text = buckets.partition("-")
        try:
            first, unit = int(first_text), int(unit_text)
            last = int(last_text) if last_text else first
        except ValueError:
            raise RouteTableError(f"route {part!r}: expected FIRST-LAST:UNIT") from None
        if not 0 <= first <= last < BUCKETS:
            raise RouteTableError(f"route {part!r}: buckets are 0-{BUCKETS - 1}")
        if not 0 <= unit < units:
            raise RouteTableError(f"route {part!r}: unit {unit} does not exist ({units} units)")
        for bucket in range(first, last + 1):
            if table[bucket] is not None:
                raise RouteTableError(f"bucket {bucket} is routed twice")
            table[bucket] = unit
    missing = [b for b, u in enumerate(table) if u is None]
    if missing:
        raise RouteTableError(f"buckets without a unit: {missing[:10]}")
    return tuple(u for u in table if u is not None)


def format_route_table(table: tuple[int, ...]) -> str:
    """The ranges form of a table (the inverse of ``parse_route_table``)."""
    parts, start = [], 0
    for bucket in range(1, len(table) + 1):
        if bucket == len(table) or table[bucket] != table[start]:
            end = bucket - 1
            parts.append(
                f"{start}-{end}:{table[start]}" if end > start else f"{start}:{table[start]}"
            )
            start = bucket
    return ",".join(parts)
