"""The local cluster's own SQL: creating its databases on its PostgreSQL server."""

from __future__ import annotations

import re


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
