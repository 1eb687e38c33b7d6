"""security (issue 11): a merchant's category (everyday | medical), which a Huabei purchase takes

Revision ID: secb_g0001
Revises:
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "secb_g0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("secb_global",)
depends_on: str | Sequence[str] | None = "global_0001"


def upgrade() -> None:
    # existing merchants are everyday merchants until an operator classifies them
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("category", sa.String(length=12), server_default="everyday", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("category")
