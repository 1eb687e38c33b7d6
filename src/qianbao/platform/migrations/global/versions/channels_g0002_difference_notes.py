"""channel difference notes (a reconciliation line marked resolved)

Revision ID: channels_g0002
Revises: channels_g0001
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "channels_g0002"
down_revision: str | Sequence[str] | None = "channels_g0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_difference_notes",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("resolved_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "day", "request_id"),
    )


def downgrade() -> None:
    op.drop_table("channel_difference_notes")
