"""risk: the detectors' marks (how far each unit's decisions were read)

Revision ID: risk_g0002
Revises: risk_g0001
Create Date: 2026-12-02 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "risk_g0002"
down_revision: str | Sequence[str] | None = "risk_g0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_detector_marks",
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit"),
    )


def downgrade() -> None:
    op.drop_table("risk_detector_marks")
