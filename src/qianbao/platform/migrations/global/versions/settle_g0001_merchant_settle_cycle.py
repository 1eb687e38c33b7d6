"""settlement: the settlement cycle of a merchant's contract (INSTANT or T1)

Revision ID: settle_g0001
Revises:
Create Date: 2026-11-25 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settle_g0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("settlement_global",)
depends_on: str | Sequence[str] | None = "global_0001"


def upgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("settle_cycle", sa.String(length=8), server_default="INSTANT", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("settle_cycle")
