"""ledger end of day: the close starts from the previous closing (last posting id, each
account's sum at the cut)

Revision ID: ledger_days_0002
Revises: ledger_days_0001
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_days_0002"
down_revision: str | Sequence[str] | None = "ledger_days_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_day_closings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_posting_id", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "ledger_account_closings",
        sa.Column("account_id", sa.String(length=80), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("sum_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("ledger_account_closings")
    with op.batch_alter_table("ledger_day_closings", schema=None) as batch_op:
        batch_op.drop_column("last_posting_id")
