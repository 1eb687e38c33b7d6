"""settlement: T+1 settlement batches

Revision ID: settle_0001
Revises:
Create Date: 2026-11-25 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settle_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("settlement",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("from_balance_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("net_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lines", sa.Integer(), server_default="0", nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=True),
        sa.Column("settled_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("net_fen >= 0", name="ck_settlement_batches_net"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant_id", "day", name="uq_settlement_batches_merchant_day"),
    )
    with op.batch_alter_table("settlement_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_settlement_batches_status_day", ["status", "day"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("settlement_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_batches_status_day")
    op.drop_table("settlement_batches")
