"""Explicit state machines: a table of allowed transitions and one function to move."""

from __future__ import annotations

from typing import Any

from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.errors import Conflict, InvalidTransition


class StateMachine:
    def __init__(self, name: str, table: str, transitions: dict[str, set[str]]) -> None:
        self.name = name
        self.table = table
        self.transitions = transitions

    def check(self, current: str, target: str) -> None:
        if target not in self.transitions.get(current, set()):
            raise InvalidTransition(f"{self.name} cannot go from {current} to {target}")

    def move(self, tx: Tx, row_id: str, current: str, target: str, **columns: Any) -> int:
        """Guarded transition: changes the row only if it is still in ``current``. Returns the
        ``updated_at_ms`` it wrote (a caller holding the row can update its copy)."""
        self.check(current, target)
        sets = "".join(f", {c} = :{c}" for c in columns)
        now_ms = clock.now_ms()
        changed = tx.execute(
            f"UPDATE {self.table} SET status = :target, updated_at_ms = :now{sets}"
            " WHERE id = :id AND status = :current",
            {"target": target, "now": now_ms, "id": row_id, "current": current, **columns},
        )
        if not changed:
            raise Conflict(f"{self.name} {row_id} changed concurrently", code="CONCURRENT_UPDATE")
        return now_ms
