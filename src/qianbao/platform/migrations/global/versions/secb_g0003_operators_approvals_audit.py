"""security (issue 11): operators' maker-checker approvals, the append-only audit log (triggers
refuse UPDATE and DELETE) and one-time-password secrets

Revision ID: secb_g0003
Revises: secb_g0002
Create Date: 2026-12-02 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "secb_g0003"
down_revision: str | Sequence[str] | None = "secb_g0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER operator_audit_no_update BEFORE UPDATE ON operator_audit"
    " BEGIN SELECT RAISE(ABORT, 'operator_audit is append-only'); END",
    "CREATE TRIGGER operator_audit_no_delete BEFORE DELETE ON operator_audit"
    " BEGIN SELECT RAISE(ABORT, 'operator_audit is append-only'); END",
]
_PG_TRIGGERS = [
    "CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'operator_audit is append-only'; END $$",
    "CREATE TRIGGER operator_audit_no_change BEFORE UPDATE OR DELETE ON operator_audit"
    " FOR EACH ROW EXECUTE FUNCTION operator_audit_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "operator_approvals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("maker_id", sa.String(length=40), nullable=False),
        sa.Column("checker_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("result", sa.Text(), server_default="", nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operator_approvals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_operator_approvals_status", ["status", "created_at_ms"], unique=False
        )
    op.create_table(
        "operator_audit",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("outcome", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operator_audit", schema=None) as batch_op:
        batch_op.create_index("ix_operator_audit_operator", ["operator_id", "at_ms"], unique=False)
    op.create_table(
        "operator_totp",
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("operator_id"),
    )
    triggers = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS operator_audit_no_change ON operator_audit")
        op.execute("DROP FUNCTION IF EXISTS operator_audit_append_only()")
    op.drop_table("operator_totp")
    op.drop_table("operator_audit")
    op.drop_table("operator_approvals")
