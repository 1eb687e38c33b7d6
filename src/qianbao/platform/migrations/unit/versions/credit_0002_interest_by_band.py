"""credit: the overdue interest tier of each account and bill (decision 0205)

Revision ID: credit_0002
Revises: credit_0001
Create Date: 2026-11-25 23:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credit_0002"
down_revision: str | Sequence[str] | None = "credit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("credit_accounts", "credit_statements")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("interest_rate", sa.String(12), server_default="", nullable=False)
            )
            batch_op.add_column(
                sa.Column("interest_band", sa.String(20), server_default="", nullable=False)
            )
            batch_op.add_column(
                sa.Column("interest_priced_by", sa.String(80), server_default="", nullable=False)
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("interest_priced_by")
            batch_op.drop_column("interest_band")
            batch_op.drop_column("interest_rate")
