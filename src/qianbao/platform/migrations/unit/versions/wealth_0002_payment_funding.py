"""wealth: a wallet payment records its funding source (BALANCE or YUEBAO) for its refunds

Revision ID: wealth_0002
Revises: wealth_0001
Create Date: 2026-12-02 14:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wealth_0002"
down_revision: str | Sequence[str] | None = "wealth_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "unit_0001"  # the payments table


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("funding", sa.String(length=12), server_default="BALANCE", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("funding")
