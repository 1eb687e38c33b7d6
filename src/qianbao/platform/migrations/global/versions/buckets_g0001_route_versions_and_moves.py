"""buckets: versioned route table and bucket moves (ADR 0935)

Revision ID: buckets_g0001
Revises:
Create Date: 2026-12-02 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "buckets_g0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("buckets_global",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("routes", sa.Text(), nullable=False),
        sa.Column("paused", sa.Text(), server_default="", nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "bucket_moves",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("from_unit", sa.Integer(), nullable=False),
        sa.Column("to_unit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("report", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bucket_moves", schema=None) as batch_op:
        batch_op.create_index("ix_bucket_moves_bucket", ["bucket", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bucket_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_bucket_moves_bucket")
    op.drop_table("bucket_moves")
    op.drop_table("route_versions")
