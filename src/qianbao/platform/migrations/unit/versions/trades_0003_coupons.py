"""trades: a coupon at the cashier (face value, funder, refunded part)

Revision ID: trades_0003
Revises: trades_0002
Create Date: 2026-11-25 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "trades_0003"
down_revision: str | Sequence[str] | None = "trades_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coupon_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("coupon_fen", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("coupon_funder", sa.String(length=12), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("coupon_refunded_fen", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("trade_refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("coupon_refund_fen", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("trade_refunds", schema=None) as batch_op:
        batch_op.drop_column("coupon_refund_fen")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_column("coupon_refunded_fen")
        batch_op.drop_column("coupon_funder")
        batch_op.drop_column("coupon_fen")
        batch_op.drop_column("coupon_id")
