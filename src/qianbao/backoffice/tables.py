"""Back-office tables (global): approvals of the maker-checker, the append-only audit log and
operators' one-time-password secrets."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata, ident

operator_approvals = sa.Table(
    "operator_approvals",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # compensation | suspense | redrive | ...
    sa.Column("target", sa.String(120), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: what runs on approval
    ident("maker_id", nullable=False),
    ident("checker_id"),
    # PENDING -> EXECUTING -> APPROVED | FAILED; PENDING -> REJECTED
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("result", sa.Text, nullable=False, server_default=""),  # JSON or the error
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_operator_approvals_status", "status", "created_at_ms"),
)

operator_audit = sa.Table(
    "operator_audit",
    global_metadata,
    ident("id", primary_key=True),  # time-ordered
    sa.Column("at_ms", Millis, nullable=False),
    sa.Column("operator_id", sa.String(40), nullable=False),  # '' when the key was refused
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),  # the route template
    sa.Column("target", sa.String(400), nullable=False),  # path parameters and query, JSON
    sa.Column("outcome", sa.Integer, nullable=False),  # the HTTP status answered
    sa.Column("code", sa.String(60), nullable=False),  # the error code, '' on success
    sa.Index("ix_operator_audit_operator", "operator_id", "at_ms"),
)

operator_totp = sa.Table(
    "operator_totp",
    global_metadata,
    ident("operator_id", primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),  # sealed (platform/crypto.py)
    sa.Column("last_step", sa.BigInteger, nullable=False, server_default="0"),  # no replay
    sa.Column("created_at_ms", Millis, nullable=False),
)
