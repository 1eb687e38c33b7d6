"""Shared body of both Alembic environments."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from qianbao.platform.schema import global_metadata, unit_metadata


def run(kind: str) -> None:
    """Migrations run from their scripts; the metadata (every package's tables, complete once
    ``qianbao.bootstrap`` is imported) only serves autogenerate."""
    metadata = unit_metadata if kind == "unit" else global_metadata
    url = context.config.get_main_option("sqlalchemy.url") or ""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            version_table=f"alembic_version_{kind}",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
