"""The unit of work of one writer batch: what a command sees (``WriteContext``) and the batch's
staged state.

A batch decides in memory and persists at the end: participants (the ledger's balances and
vouchers, idempotency keys, daily limits, the outbox, staged inserts) keep what the batch's
commands decided and write it with one multi-row statement per table just before the commit
(see docs/decisions/0008-batched-persistence.md). Two rules keep that invisible to commands:

- read-your-writes: a statement a command runs through ``ctx.tx`` that names a participant's
  table first flushes that participant (its rows are written, its caches dropped), so the
  statement sees everything the batch decided so far;
- undo: every participant implements ``mark()/rollback_to()``, so a failing command's staged
  state is dropped. A command that failed before writing anything directly is undone in memory
  alone; one that wrote directly makes the writer run the batch again with savepoints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol

from qianbao.platform.db import Row, Tx

_WORD = re.compile(r"\w+")
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(", re.IGNORECASE)
_IGNORE = re.compile(r"\s+ON\s+CONFLICT\s*\([\w\s,]+\)\s+DO\s+NOTHING\s*$", re.IGNORECASE)
# Tables a batch participant keeps itself (and reads with its own statements): never staged.
OWNED_TABLES: set[str] = set()


def own_tables(*tables: str) -> frozenset[str]:
    """Declare a participant's tables (see ``BatchParticipant``); returns them."""
    OWNED_TABLES.update(tables)
    return frozenset(tables)


@lru_cache(maxsize=4096)
def _words(sql: str) -> frozenset[str]:
    """The identifiers of a statement (a table named anywhere in it is among them)."""
    return frozenset(w.lower() for w in _WORD.findall(sql))


@lru_cache(maxsize=4096)
def _is_read(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


@lru_cache(maxsize=4096)
def stageable(sql: str) -> str:
    """How a single-row ``INSERT INTO t (...) VALUES (...)`` can be staged: "plain" (its only
    answers are 1 or a constraint error), "ignore" (``ON CONFLICT (...) DO NOTHING``: 1, or 0
    on a conflict), or "" (anything else: SELECT, RETURNING, DO UPDATE, a table a participant
    owns)."""
    match = _INSERT.match(sql)
    upper = sql.upper()
    if match is None or match.group(1).lower() in OWNED_TABLES:
        return ""
    if "SELECT" in upper or "RETURNING" in upper:
        return ""
    start = upper.find("VALUES (")
    if start < 0:
        return ""
    depth = 0
    for end in range(start + len("VALUES "), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            tail = sql[end + 1 :]
            return "plain" if not tail.strip() else "ignore" if _IGNORE.match(tail) else ""
    return ""


class BatchParticipant(Protocol):
    """Batch-scoped state (see ``WriteContext.state``) that must follow savepoints: what a
    rolled-back command staged is dropped, what committed is written before the batch commits.

    A participant may also declare ``tables`` (a frozenset of table names) and ``flush(tx)``:
    a statement through ``ctx.tx`` that names one of those tables flushes it first. A
    participant with caches of its rows may add ``checkpoint(tx)``: the write before a
    savepoint, which no other statement follows, so the caches can move forward with it."""

    def mark(self) -> Any: ...
    def rollback_to(self, mark: Any) -> None: ...
    def before_commit(self, tx: Tx) -> None: ...
    def after_commit(self) -> None: ...


class Unverified(Exception):
    """A batch's optimistic decision did not hold when it was written (a key that already
    existed, a balance or counter changed outside the cache): the writer runs the batch again
    precisely, with fresh reads and a savepoint per command."""


class Deferred(Protocol):
    """Work a batch leaves for the writer after its commit (``WriteContext.defer``): done inside
    the next batch's transaction (``in_batch``) or, if none comes soon, alone."""

    def run(self, tx: Tx, *, in_batch: bool) -> None: ...
    def done(self) -> None: ...


class BatchTx(Tx):
    """``ctx.tx``: the writer's connection, flushing staged state before a statement that could
    see it and noting which commands wrote directly."""

    def __init__(self, base: Tx, ctx: WriteContext) -> None:
        super().__init__(base.raw, base.dialect)
        self.ctx = ctx

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """A plain INSERT is staged (see ``WriteContext.stage_insert``) and answers 1; any other
        statement runs now, after flushing what it could see."""
        if not self.ctx.precise and self.ctx._stages(sql):
            self.ctx.stage_insert(sql, params or {})
            return 1
        self.ctx._before_statement(sql)
        return super().execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.ctx._before_statement(sql)
        super().executemany(sql, rows)

    def execute_values(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.ctx._before_statement(sql)
        return super().execute_values(sql, rows)

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        self.ctx._before_statement(sql)
        return super().all(sql, params)

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        self.ctx._before_statement(sql)
        return super().one(sql, params)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        self.ctx._before_statement(sql)
        return super().scalar(sql, params)


class WriteContext:
    """What a command sees: the unit, its transaction and batch-scoped state.

    ``precise`` is True when the writer re-runs a batch after a failure it could not undo in
    memory: participants then read fresh rows instead of trusting the writer's caches, and
    ``stage_insert`` runs its statement at once (inside the command's savepoint).
    """

    def __init__(
        self,
        unit: int,
        tx: Tx,
        platform: Any,
        *,
        caches: dict[str, Any] | None = None,
        precise: bool = False,
        deferred: list[Deferred] | None = None,
    ) -> None:
        self.unit = unit
        self.db = tx  # the bare connection, for participants (no flush hooks)
        self.tx: Tx = BatchTx(tx, self)
        self.platform = platform
        self.precise = precise
        self.wrote = False  # the running command wrote through ctx.tx (or made us flush)
        self._caches = caches if caches is not None else {}
        self._deferred = deferred
        self._state: dict[str, BatchParticipant] = {}
        self._depth = 0

    def state(self, key: str, factory: Callable[[], Any]) -> Any:
        item = self._state.get(key)
        if item is None:
            item = self._state[key] = factory()
        return item

    def participant(self, key: str, kind: Callable[[WriteContext], Any]) -> Any:
        """``state(key, lambda: kind(self))`` without building the lambda (hot path)."""
        item = self._state.get(key)
        if item is None:
            item = self._state[key] = kind(self)
        return item

    def cache(self, key: str, factory: Callable[[], Any]) -> Any:
        """Writer-lifetime state (survives batches; dropped before a precise re-run). Only for
        what the batch verifies when it writes (see ``Unverified``)."""
        item = self._caches.get(key)
        if item is None:
            item = self._caches[key] = factory()
        return item

    def defer(self, work: Deferred) -> None:
        """Leave ``work`` for after this batch's commit (only non-durable chores: a lost one
        must be recoverable, as a confirmation is by check-back)."""
        if self._deferred is None:
            work.run(self.db, in_batch=False)
            work.done()
        else:
            self._deferred.append(work)

    def stage_insert(self, sql: str, params: Mapping[str, Any]) -> None:
        """Queue a plain ``INSERT INTO t (...) VALUES (:a, ...)`` to run with the batch's other
        rows for ``t`` as one multi-row statement just before the commit (or earlier, before
        any statement through ``ctx.tx`` that names ``t``, so reads see it). A constraint it
        breaks makes the batch run again precisely, where the insert runs at once and fails
        only its own command. ``ctx.tx.execute`` stages such an INSERT by itself; call this to
        say so explicitly (``ON CONFLICT`` inserts are not staged: their rowcount matters)."""
        if self.precise:
            self._before_statement(sql)
            self.db.execute(sql, params)
            return
        staged: StagedInserts = self.state(
            "inserts", lambda: StagedInserts(self.cache("uow.conflicting", set))
        )
        staged.add(sql, params)

    def _stages(self, sql: str) -> bool:
        """Stage this INSERT? ``ON CONFLICT DO NOTHING`` ones are staged (answering 1, verified
        when written) until one of that statement's rows conflicts in this writer; from then on
        it runs at once, since its callers evidently meet existing rows."""
        kind = stageable(sql)
        if kind == "ignore":
            conflicting: set[str] = self.cache("uow.conflicting", set)
            return sql not in conflicting
        return kind == "plain"

    def mark_all(self) -> dict[str, Any]:
        return {key: item.mark() for key, item in self._state.items()}

    def rollback_all(self, marks: dict[str, Any]) -> None:
        for key, item in self._state.items():
            item.rollback_to(marks.get(key))

    def flush_all(self) -> None:
        """Write every participant's pending state before a savepoint. No statement of a
        command runs here, so a participant may keep what it knows of its rows
        (``checkpoint``) instead of forgetting it as ``flush`` does."""
        for item in list(self._state.values()):
            flush = getattr(item, "checkpoint", None) or getattr(item, "flush", None)
            if flush is not None:
                flush(self.db)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a block in a SAVEPOINT: if it raises, its rows and its staged state are undone.

        Staged state is written first, so the savepoint's rollback undoes exactly the block;
        the running command has then written to the database (no in-memory undo for it)."""
        self.wrote = True
        self.flush_all()
        marks = self.mark_all()
        self._depth += 1
        name = f"sp{self._depth}"
        self.db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.db.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.db.execute(f"RELEASE SAVEPOINT {name}")
            self.rollback_all(marks)
            raise
        else:
            self.db.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._depth -= 1

    def _before_statement(self, sql: str) -> None:
        if not _is_read(sql):
            self.wrote = True
        words = _words(sql)
        for item in list(self._state.values()):
            tables: frozenset[str] | None = getattr(item, "tables", None)
            if tables and not tables.isdisjoint(words):
                self.wrote = True  # a flush writes (and may fail half-way): no in-memory undo
                item.flush(self.db)  # type: ignore[attr-defined]

    def _each(self, method: str, *args: Any) -> None:
        for item in list(self._state.values()):
            getattr(item, method)(*args)

    def release(self) -> None:
        """Drop the batch's state once the batch is done: ``ctx.tx`` refers back to the context
        (a reference cycle), so without this every batch's rows would wait for the cyclic GC."""
        self._state = {}


class StagedInserts:
    """Batch participant behind ``WriteContext.stage_insert``: rows grouped by statement, each
    group written as one multi-row statement that must insert every row (else ``Unverified``:
    the batch runs again precisely, and an ``ON CONFLICT`` statement is no longer staged)."""

    def __init__(self, conflicting: set[str]) -> None:
        self.rows: list[tuple[str, Mapping[str, Any]]] = []
        self.tables: frozenset[str] = frozenset()
        self.conflicting = conflicting

    def add(self, sql: str, params: Mapping[str, Any]) -> None:
        match = _INSERT.match(sql)
        if match is None or not stageable(sql):
            raise ValueError(f"stage_insert takes a single-row INSERT ... VALUES (...): {sql}")
        table = match.group(1).lower()
        if table not in self.tables:
            self.tables = self.tables | {table}
        self.rows.append((sql, params))

    def flush(self, tx: Tx) -> bool:
        if not self.rows:
            return False
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for sql, params in self.rows:
            groups.setdefault(sql, []).append(params)
        self.rows.clear()
        for sql, rows in groups.items():
            if tx.execute_values(sql, rows) != len(rows):
                self.conflicting.add(sql)
                raise Unverified(f"a staged insert met an existing row: {sql}")
        return True

    def mark(self) -> int:
        return len(self.rows)

    def rollback_to(self, mark: int | None) -> None:
        del self.rows[mark or 0 :]

    def before_commit(self, tx: Tx) -> None:
        self.flush(tx)

    def after_commit(self) -> None:
        pass
