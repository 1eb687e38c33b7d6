"""A move's writer commands as data, so they run in the unit's own process in the distributed
mode (``RemoteWriter`` sends registered commands) and in the local writer in the embedded one.

``register`` puts them on a platform's command bus: the process running the move does it
(``move.run``), and every unit process does it at start (``cluster/serve.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.cluster.buckets import copy
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class MoveOut:
    bucket: int
    source: int
    target: int
    ref: str


@dataclass(frozen=True)
class MoveIn:
    bucket: int
    source: int
    target: int
    ref: str
    rows: Rows
    replace: bool


@dataclass(frozen=True)
class RetireRows:
    rows: Rows


@dataclass(frozen=True)
class Barrier:
    """Runs after everything queued before it in the unit's writer (first in, first out)."""

    unit: int


def _pass(c: MoveOut | MoveIn) -> copy.Pass:
    return copy.Pass(c.bucket, c.source, c.target, c.ref)


def handle_move_out(ctx: WriteContext, c: MoveOut) -> list[list[Any]]:
    return [[account, amount] for account, amount in copy.move_out(ctx, _pass(c))]


def handle_move_in(ctx: WriteContext, c: MoveIn) -> int:
    return copy.move_in(ctx, _pass(c), c.rows, replace=c.replace)


def handle_retire(ctx: WriteContext, c: RetireRows) -> int:
    return copy.retire(ctx, c.rows)


def handle_barrier(ctx: WriteContext, c: Barrier) -> None:
    return None


def register(p: Platform) -> None:
    """Idempotent: the same handlers may be registered again."""
    p.commands.register(MoveOut, handle_move_out)
    p.commands.register(MoveIn, handle_move_in)
    p.commands.register(RetireRows, handle_retire)
    p.commands.register(Barrier, handle_barrier)
