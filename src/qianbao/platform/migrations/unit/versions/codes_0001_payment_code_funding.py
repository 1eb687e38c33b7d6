"""payment codes: the buyer's funding choice (balance or Huabei) and each code's funding

Revision ID: codes_0001
Revises:
Create Date: 2026-11-25 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "codes_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("codes",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_code_settings",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("funding", sa.String(length=12), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "payment_code_funding",
        sa.Column("code", sa.String(length=18), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("funding", sa.String(length=12), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("payment_code_funding", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_code_funding_user", ["user_id", "expires_at_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_code_funding", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_code_funding_user")
    op.drop_table("payment_code_funding")
    op.drop_table("payment_code_settings")
