"""Alembic environment for the global database(s)."""

from qianbao.platform.migrations.env_common import run

run("global")
