"""The migrations create exactly the tables the packages declare: after ``upgrade heads`` on an
empty database, Alembic's autogenerate finds nothing to add, drop or change."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import qianbao.bootstrap  # noqa: F401  (imports every package's tables)
from qianbao.platform.db import Database
from qianbao.platform.migrations import alembic_config
from qianbao.platform.schema import global_metadata, unit_metadata


@pytest.mark.parametrize("kind", ["unit", "global"])
def test_migrations_match_the_declared_tables(kind: str, tmp_path: Path) -> None:
    metadata = unit_metadata if kind == "unit" else global_metadata
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    command.upgrade(alembic_config(kind, Database(url)), "heads")
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": f"alembic_version_{kind}"}
        )
        assert compare_metadata(context, metadata) == []
    engine.dispose()
    assert metadata.tables, "no tables declared: bootstrap did not import the packages' tables"
