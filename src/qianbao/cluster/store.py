"""The local cluster's own SQL: creating its databases on its PostgreSQL server."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qianbao.platform.runtime import Platform


def create_databases(admin_url: str, names: list[str]) -> list[str]:
    """Create the databases that do not exist yet; returns the ones created."""
    import psycopg

    created = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise ValueError(f"not a database name: {name!r}")
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {name}")
                created.append(name)
    return created


def sync_state(admin_url: str, standby: str) -> str | None:
    """The primary's view of standby ``standby``: sync | async | potential, or None (not
    connected)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s"
            " AND state = 'streaming'",
            (standby,),
        ).fetchone()
    return str(row[0]) if row else None


def set_synchronous_standbys(admin_url: str, names: str) -> None:
    """``synchronous_standby_names`` of a running server, in effect at once (no restart)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(
            sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(sql.Literal(names))
        )
        conn.execute("SELECT pg_reload_conf()")


def in_recovery(admin_url: str, unreachable: bool | None = True) -> bool | None:
    """True while the server is a standby; ``unreachable`` when it cannot be reached."""
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.OperationalError:
        return unreachable
    return bool(row and row[0])


def money_row_ids(p: Platform) -> dict[str, set[str]]:
    """The ids of every payment and transfer row over every unit (the cluster test's
    exactly-once check: one row per acknowledged request, and no other)."""
    ids: dict[str, set[str]] = {"payments": set(), "transfers": set()}
    for db in p.units:
        with db.read() as tx:
            ids["payments"].update(str(r["id"]) for r in tx.all("SELECT id FROM payments"))
            ids["transfers"].update(str(r["id"]) for r in tx.all("SELECT id FROM transfers"))
    return ids
