"""marketing: coupon campaigns and per-user grants

Revision ID: marketing_g0001
Revises:
Create Date: 2026-11-25 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "marketing_g0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("marketing_global",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupon_campaigns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("funder", sa.String(length=12), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=True),
        sa.Column("face_fen", sa.BigInteger(), nullable=False),
        sa.Column("min_spend_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("valid_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("per_user_limit", sa.Integer(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("issued_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("issued_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("issued_fen <= budget_fen", name="ck_coupon_campaigns_budget"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "coupon_grants",
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", "seq"),
        sa.UniqueConstraint("campaign_id", "request_id", name="uq_coupon_grants_request"),
    )


def downgrade() -> None:
    op.drop_table("coupon_grants")
    op.drop_table("coupon_campaigns")
