"""security (issue 11): bank orders keep no card number; the bank request opens the number
sealed on the card row (global migration secb_g0002), found by the order's card_id

Revision ID: secb_0001
Revises:
Create Date: 2026-12-02 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "secb_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("secb",)
depends_on: str | Sequence[str] | None = "unit_0001"


def upgrade() -> None:
    with op.batch_alter_table("bank_orders", schema=None) as batch_op:
        batch_op.drop_column("card_no")


def downgrade() -> None:
    with op.batch_alter_table("bank_orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("card_no", sa.String(length=19), server_default="", nullable=False)
        )
