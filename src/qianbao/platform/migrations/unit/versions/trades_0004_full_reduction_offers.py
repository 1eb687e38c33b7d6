"""trades: a full-reduction offer at the cashier (its part, funder, refunded part)

Revision ID: trades_0004
Revises: trades_0003
Create Date: 2026-12-02 14:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "trades_0004"
down_revision: str | Sequence[str] | None = "trades_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("offer_fen", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("offer_funder", sa.String(length=12), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("offer_refunded_fen", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("trade_refunds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("offer_refund_fen", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("trade_refunds", schema=None) as batch_op:
        batch_op.drop_column("offer_refund_fen")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_column("offer_refunded_fen")
        batch_op.drop_column("offer_funder")
        batch_op.drop_column("offer_fen")
        batch_op.drop_column("offer_id")
