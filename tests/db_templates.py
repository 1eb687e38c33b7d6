"""Databases migrated once per test session, copied for each test.

Opening a platform on empty databases runs every migration on each of them: about 0.7 s per
database on SQLite and more on PostgreSQL, which was most of the suite's time. Here each kind
of database (``global``, ``unit``) is migrated once, with the real migrations, and a test's
fresh databases start as copies of it: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE``
on PostgreSQL. The platform then opens them as it opens any database (its migrations find
nothing to do). The data keys a migration makes (wrapped with the template's own key-encryption
key) are removed from the template: each platform makes its own on first open, as on a database
it migrated itself. Databases that already exist are never touched, so a test that reopens a
platform on the same files still sees its own data. tests/test_migrations_*.py keep testing
the migrations themselves from an empty database.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from qianbao.bootstrap import open_keyring
from qianbao.platform.db import Database
from qianbao.platform.migrations import upgrade
from qianbao.platform.settings import Settings

KINDS = ("global", "unit")


class Templates:
    def __init__(self) -> None:
        self._dir: Path | None = None
        self._pg: dict[str, str] = {}  # kind -> template database name
        self._admin = ""

    # --- SQLite -------------------------------------------------------------------------------
    def seed_sqlite(self, settings: Settings) -> None:
        """Copy a migrated file to each of ``settings``' SQLite databases that does not exist."""
        if settings.global_url or settings.unit_urls:
            return
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        wanted = [("global", settings.global_database_url)]
        wanted += [("unit", settings.unit_database_url(u)) for u in range(settings.unit_count)]
        for kind, url in wanted:
            target = Path(url.removeprefix("sqlite:///"))
            if not target.exists():
                shutil.copyfile(self._sqlite_file(kind), target)

    def _sqlite_file(self, kind: str) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="qb-test-templates-"))
            atexit.register(shutil.rmtree, self._dir, True)
            open_keyring(Settings(data_dir=self._dir))
        path = self._dir / f"{kind}.db"
        if not path.exists():
            building = path.with_suffix(".building")
            db = Database(f"sqlite:///{building}")
            upgrade(kind, db)
            tx = db.connect()
            if kind == "global":
                tx.raw.execute("DELETE FROM data_keys")  # the connection autocommits
            tx.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
            tx.raw.close()
            os.replace(building, path)
        return path

    # --- PostgreSQL ---------------------------------------------------------------------------
    def pg_database(self, admin_url: str, kind: str, name: str) -> None:
        """Create database ``name`` as a copy of the migrated ``kind`` template."""
        import psycopg

        template = self._pg_template(admin_url, kind)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")

    def _pg_template(self, admin_url: str, kind: str) -> str:
        if kind in self._pg:
            return self._pg[kind]
        import psycopg

        self._admin = admin_url
        name = f"qb_tpl_{kind}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        if self._dir is None:
            self._sqlite_file("global")  # the keyring the sealing migrations need
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        upgrade(kind, Database(url))
        if kind == "global":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DELETE FROM data_keys")
        with psycopg.connect(admin_url, autocommit=True) as conn:  # a template has no sessions
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        self._pg[kind] = name
        return name

    def drop(self) -> None:
        if not self._pg:
            return
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as conn:
            for name in self._pg.values():
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._pg.clear()


TEMPLATES = Templates()
