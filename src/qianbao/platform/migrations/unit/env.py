"""Alembic environment for the unit database(s)."""

from qianbao.platform.migrations.env_common import run

run("unit")
