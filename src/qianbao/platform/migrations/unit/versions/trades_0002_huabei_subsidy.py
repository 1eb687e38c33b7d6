"""trades: the installment fee a merchant subsidises on a Huabei-funded trade

Revision ID: trades_0002
Revises: trades_0001
Create Date: 2026-11-25 21:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "trades_0002"
down_revision: str | Sequence[str] | None = "trades_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy_fen", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("subsidy_refunded_fen", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("trade_refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy_refund_fen", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("trade_refunds", schema=None) as batch_op:
        batch_op.drop_column("subsidy_refund_fen")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_column("subsidy_refunded_fen")
        batch_op.drop_column("subsidy_fen")
