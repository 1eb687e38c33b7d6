"""Database access: SQLAlchemy engines for schema and migrations, thin DBAPI transactions for
the hot path.

Services write SQL once with ``:name`` parameters; ``Tx`` runs it on SQLite (sqlite3) or
PostgreSQL (psycopg 3), translating the parameter style once per statement text. Going to the
DBAPI directly keeps the per-statement cost in microseconds, which the group-commit writer needs
(see docs/decisions/0003-dbapi-on-the-hot-path.md).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from qianbao.platform.errors import Busy

Row = Mapping[str, Any]
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


# SQLite's default SQLITE_MAX_VARIABLE_NUMBER (3.32+) is 32,766; stay well below it.
_SQLITE_PARAMS_MAX = 30_000
_SQLITE_STATEMENTS_CACHED = 1024  # multi-row statements come in a few sizes per table


@lru_cache(maxsize=4096)
def _to_pyformat(sql: str) -> str:
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


@lru_cache(maxsize=1024)
def _values_template(sql: str) -> tuple[str, str, str, tuple[str, ...]]:
    """Split ``... VALUES (<group>) ...`` into (head, group with ``?``, tail, parameter order).

    The group is the one place with ``:name`` parameters; head and tail hold none, so the group
    can be repeated once per row to make one multi-row statement.
    """
    start = sql.upper().index("VALUES (") + len("VALUES ")
    depth, end = 0, start
    for end in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            break
    head, group, tail = sql[:start], sql[start : end + 1], sql[end + 1 :]
    assert not _PARAM.search(head) and not _PARAM.search(tail), f"parameters outside VALUES: {sql}"
    return head, _PARAM.sub("?", group), tail, tuple(_PARAM.findall(group))


def _chunk_sizes(rows: int, most: int) -> list[int]:
    """Split ``rows`` into powers of two (at most ``most``), so a multi-row statement has one
    of a few shapes and stays in the connection's statement cache instead of being compiled
    anew for every batch size (compiling costs more than running it)."""
    sizes = []
    top = 1 << max(0, most.bit_length() - 1)
    while rows:
        size = top
        while size > rows:
            size >>= 1
        sizes.append(size)
        rows -= size
    return sizes


_PG_ARRAY_TYPES = {str: "text[]", int: "bigint[]", bool: "boolean[]", float: "float8[]"}


def _pg_array_type(values: list[Any]) -> str:
    """The placeholder and array type of a column of parameters (``%b::bigint[]``: binary, see
    ``_unnest_template``); "" for a column of NULLs only, which the statement then writes as a
    NULL literal. A column's values are of one Python type (psycopg refuses mixed lists)."""
    kind = next((type(v) for v in values if v is not None), None)
    if kind is None:
        return ""
    try:
        return f"%b::{_PG_ARRAY_TYPES[kind]}"
    except KeyError:
        raise TypeError(f"no PostgreSQL array type for {kind.__name__}") from None


@lru_cache(maxsize=1024)
def _unnest_template(sql: str, casts: tuple[str, ...] = ()) -> tuple[str, tuple[str, ...]]:
    """PostgreSQL's form of a many-row statement: ``VALUES (:a, 'x', :b)`` becomes
    ``SELECT v.a, 'x', v.b FROM unnest(%b, %b) AS v(a, b)``, one array parameter per name,
    so the statement text stays short (psycopg caches its parsing) whatever the row count.
    The arrays travel in binary (``%b``): psycopg's text form of an array quotes and escapes
    every element in Python, several times the cost of the binary form (and most of the
    writer's CPU on PostgreSQL)."""
    start = sql.upper().index("VALUES (")
    head, _, _, _ = _values_template(sql)
    group_end = len(head) + _group_length(sql[len(head) :])
    group, tail = sql[len(head) + 1 : group_end - 1], sql[group_end:]
    names = tuple(dict.fromkeys(_PARAM.findall(group)))
    nulls = {name for name, cast in zip(names, casts, strict=False) if not cast}
    select = _PARAM.sub(lambda m: "NULL" if m.group(1) in nulls else f'v_."{m.group(1)}"', group)
    typed = [(name, cast) for name, cast in zip(names, casts, strict=False) if cast]
    arrays = ", ".join(cast for _, cast in typed) if casts else ", ".join(["%b"] * len(names))
    columns = (
        ", ".join(f'"{name}"' for name, _ in typed)
        if casts
        else ", ".join(f'"{name}"' for name in names)
    )  # quoted: a name may be a keyword

    def escaped(text: str) -> str:  # the statement's own % signs; the placeholders stay
        return text.replace("%", "%%")

    text = (
        f"{escaped(sql[:start])}SELECT {escaped(select)} FROM unnest({arrays})"
        f" AS v_({escaped(columns)}){escaped(tail)}"
    )
    return text, names


def _group_length(text: str) -> int:
    depth = 0
    for end, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == ")":
            return end + 1
    raise ValueError(f"unbalanced VALUES group: {text}")


class Tx:
    """One DBAPI connection with explicit BEGIN/COMMIT; rows come back as mappings."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw = raw
        self.dialect = dialect
        self._pg = dialect == "postgresql"

    def _sql(self, sql: str) -> str:
        return _to_pyformat(sql) if self._pg else sql

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement and return its rowcount."""
        cur = self.raw.execute(self._sql(sql), params or {})
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            cur = self.raw.cursor()
            cur.executemany(self._sql(sql), rows)

    def execute_values(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run ``sql`` (one ``VALUES (:a, :b, ...)`` group) for every row and return the rows it
        changed, with one statement instead of one per row (one GIL release on SQLite, one
        round trip on PostgreSQL). SQLite repeats the group (chunks in powers of two, so each
        table has a few statement shapes, all cached); PostgreSQL reads arrays (``unnest``)."""
        if not rows:
            return 0
        if self._pg:
            names = _unnest_template(sql)[1]
            columns = [[row[name] for row in rows] for name in names]
            casts = tuple(_pg_array_type(column) for column in columns)
            text = _unnest_template(sql, casts)[0]
            arrays = [column for column, cast in zip(columns, casts, strict=True) if cast]
            return int(self.raw.execute(text, arrays).rowcount)
        head, group, tail, names = _values_template(sql)
        before = self.raw.total_changes  # rowcount is -1 for a statement that starts with WITH
        first = 0
        for size in _chunk_sizes(len(rows), _SQLITE_PARAMS_MAX // max(1, len(names))):
            chunk = rows[first : first + size]
            first += size
            params = [row[name] for row in chunk for name in names]
            self.raw.execute(head + ",".join([group] * size) + tail, params)
        return int(self.raw.total_changes - before)

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return list(self.raw.execute(self._sql(sql), params or {}).fetchall())

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        row: Row | None = self.raw.execute(self._sql(sql), params or {}).fetchone()
        return row

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.raw.execute(self._sql(sql), params or {}).fetchone()
        if row is None:
            return None
        return row[0] if not self._pg else next(iter(row.values()))

    def begin(self) -> None:
        self.raw.execute("BEGIN")

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self.raw.execute("ROLLBACK")


def _sqlite_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> sqlite3.Row:
    return sqlite3.Row(cursor, row)


def _multi_host(url: str) -> str:
    """A libpq URL naming several servers (``user@h1:p1,h2:p2/db``, a replicated unit) in
    SQLAlchemy's spelling (``user@/db?host=h1:p1&host=h2:p2``)."""
    parts = urlsplit(url)
    user, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return url
    query = "&".join([*(f"host={h}" for h in hosts.split(",")), *filter(None, [parts.query])])
    return urlunsplit((parts.scheme, f"{user}{at}", parts.path, query, ""))


class Database:
    """One database: a unit's, the global one, or the bank simulator's."""

    def __init__(
        self, url: str, *, synchronous: str = "FULL", name: str = "", pool_size: int = 32
    ) -> None:
        self.url = url
        self.name = name or url
        self.synchronous = synchronous
        self.dialect = "postgresql" if url.startswith("postgres") else "sqlite"
        if self.dialect == "sqlite":
            self.path = Path(url.removeprefix("sqlite:///"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._engine: sa.Engine | None = None
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._idle: list[Tx] = []

    @property
    def sqlalchemy_url(self) -> str:
        if self.dialect == "postgresql":
            return _multi_host(
                re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", self.url)
            )
        return self.url

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.sqlalchemy_url, poolclass=sa.pool.NullPool)
        return self._engine

    def connect(self) -> Tx:
        """A new raw connection in autocommit mode (transactions are explicit)."""
        raw: Any
        if self.dialect == "sqlite":
            raw = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
                cached_statements=_SQLITE_STATEMENTS_CACHED,
            )
            raw.row_factory = _sqlite_row
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute(f"PRAGMA synchronous={self.synchronous}")
            raw.execute("PRAGMA busy_timeout=30000")
        else:
            import psycopg
            from psycopg.rows import dict_row

            conninfo = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", self.url)
            raw = psycopg.connect(conninfo, autocommit=True, row_factory=dict_row)
        with self._lock:
            self._all.append(raw)
        return Tx(raw, self.dialect)

    @contextmanager
    def _borrow(self) -> Iterator[Tx]:
        """A connection for this thread: its own SQLite connection (cheap, one per thread), or
        one from a bounded pool of PostgreSQL connections (server connections are not)."""
        held: Tx | None = getattr(self._local, "tx", None)
        if held is not None:  # nested use on the same thread shares the connection
            yield held
            return
        if self.dialect == "sqlite":
            self._local.tx = self.connect()
            yield self._local.tx
            return
        if not self._slots.acquire(timeout=30):
            raise Busy(f"no free connection to {self.name}")
        try:
            tx = self._idle.pop() if self._idle else self.connect()
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None
                if tx.raw.closed or tx.raw.info.transaction_status:  # not idle: drop it
                    tx.raw.close()
                else:
                    self._idle.append(tx)
        finally:
            self._slots.release()

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Tx]:
        """A reader connection. Each statement sees committed data; with ``snapshot`` all
        statements in the block see the same moment (ledger checks, reports)."""
        with self._borrow() as tx:
            if not snapshot:
                yield tx
                return
            tx.execute(
                "BEGIN" if self.dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ"
            )
            try:
                yield tx
            finally:
                tx.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A short read-write transaction outside any unit writer (global data, tools)."""
        with self._borrow() as tx:
            tx.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
            tx.commit()

    def close(self) -> None:
        with self._lock:
            for raw in self._all:
                with contextlib.suppress(Exception):  # closing is best effort at shutdown
                    raw.close()
            self._all.clear()
        self._local = threading.local()
        self._idle.clear()
        if self._engine is not None:
            self._engine.dispose()
