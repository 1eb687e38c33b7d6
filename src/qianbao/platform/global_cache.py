"""Invalidating every process's caches of global data when that data changes.

In the distributed mode several processes (access layer and units) cache rows of the global
database: tokens (``Platform.token_cache``), merchants (``merchant_cache``), users
(``user_cache``). A change made by any process must reach them all (a revoked token, a frozen
merchant, a rotated key). PostgreSQL tells them: row triggers on the global tables call
``pg_notify('qianbao_global', '<table>:<key>')`` in the changing transaction, so the notice is
sent exactly when the change commits, whoever made it (a service, an operator's SQL, a
migration). Each process LISTENs on a dedicated connection and drops the entry (docs/decisions/
0403-global-data-and-caches.md). If that connection breaks, notices may have been missed, so
the process drops every cache when it loses the connection and again when it has listened
anew (``healthy`` says which); in between (about ``retry_s``) an entry read then may be stale,
as any entry of the 5-second merchant cache already may be. Every drop moves
``Platform.cache_generation``: a reader that read a row while a drop happened does not cache it
(the notice may have come between its read and its store).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.global_cache")
CHANNEL = "qianbao_global"
# table -> the column that keys its cache entries (None: the whole cache goes)
WATCHED: dict[str, str] = {
    "users": "id",
    "merchants": "id",
    "user_sessions": "token_hash",
    "api_keys": "key_hash",
    "open_apps": "app_id",
}

_FUNCTION = """
CREATE OR REPLACE FUNCTION qianbao_global_changed() RETURNS trigger AS $$
DECLARE
  r jsonb := to_jsonb(COALESCE(OLD, NEW));
BEGIN
  PERFORM pg_notify('qianbao_global', TG_TABLE_NAME || ':' || COALESCE(r ->> TG_ARGV[0], ''));
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""


def install_triggers(url: str) -> list[str]:
    """Create (or replace) the notifying triggers on the global tables that exist; idempotent."""
    import psycopg

    installed = []
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute(_FUNCTION)
        for table, key in WATCHED.items():
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if not (exists and exists[0]):
                continue
            conn.execute(
                f"CREATE OR REPLACE TRIGGER qianbao_{table}_changed AFTER UPDATE OR DELETE"
                f" ON {table} FOR EACH ROW EXECUTE FUNCTION qianbao_global_changed('{key}')"
            )
            installed.append(table)
    return installed


def _conninfo(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def forget(p: Platform, table: str, key: str) -> None:
    """Drop what ``p`` caches for one changed row (or the whole cache of that table)."""
    caches: dict[str, dict[str, Any]] = {
        "users": p.user_cache,
        "merchants": p.merchant_cache,
        "user_sessions": p.token_cache,
        "api_keys": p.key_cache,
    }
    cache = caches.get(table)
    if cache is None:
        return
    p.cache_generation += 1  # a read under way may have seen the row before the change
    if key:
        cache.pop(key, None)
    else:
        cache.clear()


def forget_all(p: Platform) -> None:
    p.cache_generation += 1
    p.user_cache.clear()
    p.merchant_cache.clear()
    p.token_cache.clear()
    p.key_cache.clear()


class CacheInvalidator:
    """The LISTEN thread of one process."""

    def __init__(self, p: Platform, *, retry_s: float = 1.0) -> None:
        self.p = p
        self.retry_s = retry_s
        self.received = 0
        self.healthy = False
        self._stop = threading.Event()
        self._conn: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> CacheInvalidator:
        self._thread = threading.Thread(target=self._run, name="cache-invalidator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:
                if self._stop.is_set():
                    return
                log.warning("cache invalidation connection lost; caches dropped, reconnecting")
            self.healthy = False
            forget_all(self.p)
            self._stop.wait(self.retry_s)

    def _listen(self) -> None:
        import psycopg

        self._conn = conn = psycopg.connect(
            _conninfo(self.p.settings.global_database_url), autocommit=True
        )
        conn.execute(f"LISTEN {CHANNEL}")
        forget_all(self.p)  # whatever happened while we were not listening
        self.healthy = True
        for notice in conn.notifies():
            table, _, key = notice.payload.partition(":")
            forget(self.p, table, key)
            self.received += 1
            if self._stop.is_set():
                return
