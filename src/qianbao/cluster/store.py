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


def money_row_ids(p: Platform) -> dict[str, set[str]]:
    """The ids of every payment and transfer row over every unit (the cluster test's
    exactly-once check: one row per acknowledged request, and no other)."""
    ids: dict[str, set[str]] = {"payments": set(), "transfers": set()}
    for db in p.units:
        with db.read() as tx:
            ids["payments"].update(str(r["id"]) for r in tx.all("SELECT id FROM payments"))
            ids["transfers"].update(str(r["id"]) for r in tx.all("SELECT id FROM transfers"))
    return ids
