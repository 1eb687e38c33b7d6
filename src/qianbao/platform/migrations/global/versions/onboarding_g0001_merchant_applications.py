"""merchant onboarding (issue 14): applications and merchants' web logins

Revision ID: onboarding_g0001
Revises:
Create Date: 2026-12-02 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "onboarding_g0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("onboarding_global",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_applications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("application_no", sa.String(length=24), nullable=False),
        sa.Column("business_name", sa.String(length=80), nullable=False),
        sa.Column("licence_no", sa.String(length=18), nullable=False),
        sa.Column("licence_live", sa.String(length=18), nullable=True),
        sa.Column("contact_name", sa.String(length=60), nullable=False),
        sa.Column("contact_phone", sa.String(length=11), nullable=False),
        sa.Column("contact_email", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=12), nullable=False),
        sa.Column("bank_cipher", sa.Text(), nullable=False),
        sa.Column("bank_token", sa.String(length=64), nullable=False),
        sa.Column("bank_last4", sa.String(length=4), nullable=False),
        sa.Column("account_holder", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reject_reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("merchant_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("decided_by", sa.String(length=40), server_default="", nullable=False),
        sa.Column("submitted_by", sa.String(length=40), server_default="", nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_no"),
        sa.UniqueConstraint("licence_live"),
    )
    op.create_index(
        "ix_merchant_applications_status",
        "merchant_applications",
        ["status", "created_at_ms"],
        unique=False,
    )
    op.create_table(
        "merchant_logins",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), server_default="", nullable=False),
        sa.Column("activation_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("activation_expires_at_ms", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id"),
        sa.UniqueConstraint("email"),
    )


def downgrade() -> None:
    op.drop_table("merchant_logins")
    op.drop_index("ix_merchant_applications_status", table_name="merchant_applications")
    op.drop_table("merchant_applications")
