"""Alembic migrations: ``unit/`` for every unit database, ``global/`` for the global one."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from qianbao.platform.db import Database

HERE = Path(__file__).parent


def alembic_config(kind: str, db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / kind))
    cfg.set_main_option("sqlalchemy.url", db.sqlalchemy_url.replace("%", "%%"))
    cfg.attributes["kind"] = kind
    return cfg


def upgrade(kind: str, db: Database) -> None:
    command.upgrade(alembic_config(kind, db), "heads")
