"""credit: merchants' installment offers on trades (hb_fq_num / hb_fq_seller_percent)

Revision ID: credit_0003
Revises: credit_0002
Create Date: 2026-11-25 23:12:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credit_0003"
down_revision: str | Sequence[str] | None = "credit_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_installment_offers",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column("seller_percent", sa.Integer(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "out_trade_no"),
    )


def downgrade() -> None:
    op.drop_table("credit_installment_offers")
