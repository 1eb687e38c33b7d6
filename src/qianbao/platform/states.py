"""Explicit state machines: a table of allowed transitions and one function to move.

A machine names its table, its key columns (``id`` unless told), the column that stamps a
change (``updated_at_ms`` unless ``None``) and the states a row may be born in (``initial``).
A row created already finished (a payment recorded SUCCEEDED inside its paying command) is
inserted in a declared starting state, so the hot path needs no insert-then-move.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.errors import Conflict, InvalidTransition


class StateMachine:
    def __init__(
        self,
        name: str,
        table: str,
        transitions: dict[str, set[str]],
        *,
        key: str | tuple[str, ...] = "id",
        stamp: str | None = "updated_at_ms",
        initial: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.table = table
        self.transitions = transitions
        self.key = (key,) if isinstance(key, str) else tuple(key)
        self.stamp = stamp
        self.initial = frozenset(initial)
        unknown = self.initial - self.states()
        assert not unknown, f"{name}: starting states {sorted(unknown)} are not in its table"

    def states(self) -> frozenset[str]:
        """Every state the table names, as a source or as a target."""
        return frozenset(self.transitions).union(*self.transitions.values())

    def check(self, current: str, target: str) -> None:
        if target not in self.transitions.get(current, set()):
            raise InvalidTransition(f"{self.name} cannot go from {current} to {target}")

    def born(self, state: str | None = None) -> str:
        """The status a new row is inserted in: ``state`` if it is a declared starting state
        (the only starting state when ``None``); any other raises InvalidTransition."""
        if state is None and len(self.initial) == 1:
            return next(iter(self.initial))
        if state is None or state not in self.initial:
            raise InvalidTransition(f"{self.name} cannot start in {state}")
        return state

    def move(self, tx: Tx, row_id: Any, current: str, target: str, **columns: Any) -> int:
        """Guarded transition: changes the row only if it is still in ``current``. ``row_id`` is
        the key's value (a tuple for a key of several columns). Returns the stamp it wrote (a
        caller holding the row can update its copy)."""
        self.check(current, target)
        values = row_id if len(self.key) > 1 else (row_id,)
        where = dict(zip(self.key, values, strict=True))
        now_ms = clock.now_ms()
        if not self._update(tx, where, (current,), target, now_ms, columns):
            raise Conflict(f"{self.name} {row_id} changed concurrently", code="CONCURRENT_UPDATE")
        return now_ms

    def move_each(
        self, tx: Tx, moves: Sequence[Mapping[str, Any]], columns: tuple[str, ...] = ()
    ) -> int:
        """Many guarded transitions in one statement (a writer batch's moves): each of ``moves``
        names its row (``id``), its current state ``from_state`` and its target ``to_state``
        (checked here), the ``stamp`` and a value for each of ``columns``. Returns how many rows
        moved: a row no longer in its ``from_state`` does not."""
        assert len(self.key) == 1, f"{self.name}: move_each takes a one-column key"
        for move in moves:
            self.check(move["from_state"], move["to_state"])
        return tx.execute_values(_moves_sql(self.table, self.key[0], self.stamp, columns), moves)

    def move_all(
        self,
        tx: Tx,
        where: Mapping[str, Any],
        current: str | Iterable[str],
        target: str,
        **columns: Any,
    ) -> int:
        """Bulk transition: every row matching ``where`` (column = value) that is in one of the
        ``current`` states goes to ``target``; each source must allow it. Returns the count."""
        sources = (current,) if isinstance(current, str) else tuple(sorted(current))
        for source in sources:
            self.check(source, target)
        return self._update(tx, where, sources, target, clock.now_ms(), columns)

    def _update(
        self,
        tx: Tx,
        where: Mapping[str, Any],
        sources: tuple[str, ...],
        target: str,
        now_ms: int,
        columns: Mapping[str, Any],
    ) -> int:
        assert where and sources, f"{self.name}: a move names its rows and its source states"
        stamp = {self.stamp: now_ms} if self.stamp else {}
        sets = {"status": target, **stamp, **columns}
        params = {f"s_{c}": v for c, v in sets.items()} | {f"w_{c}": v for c, v in where.items()}
        params |= {f"c{i}": s for i, s in enumerate(sources)}
        assigned = ", ".join(f"{c} = :s_{c}" for c in sets)
        matched = " AND ".join(f"{c} = :w_{c}" for c in where)
        states = ", ".join(f":c{i}" for i in range(len(sources)))
        return tx.execute(
            f"UPDATE {self.table} SET {assigned} WHERE {matched} AND status IN ({states})", params
        )


@lru_cache(maxsize=64)
def _moves_sql(table: str, key: str, stamp: str | None, columns: tuple[str, ...]) -> str:
    """``UPDATE ... FROM`` a list of rows (``Tx.execute_values``), each guarded by its state."""
    names = ("id", "from_state", "to_state", *(("stamp",) if stamp else ()), *columns)
    sets = ["status = d.to_state", *([f"{stamp} = d.stamp"] if stamp else [])]
    sets += [f"{c} = d.{c}" for c in columns]
    return (
        f"WITH d ({', '.join(names)}) AS (VALUES ({', '.join(':' + n for n in names)}))"
        f" UPDATE {table} SET {', '.join(sets)} FROM d"
        f" WHERE {table}.{key} = d.id AND {table}.status = d.from_state"
    )
