"""Ledger tables (unit data)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, ident, unit_metadata

accounts = sa.Table(
    "accounts",
    unit_metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("subject", sa.String(40), nullable=False),
    ident("owner_id", nullable=False),
    sa.Column("balance_fen", Money, nullable=False, server_default="0"),
    sa.Column("hold_fen", Money, nullable=False, server_default="0"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_accounts_owner", "owner_id"),
    sa.CheckConstraint("hold_fen >= 0", name="ck_accounts_hold_nonneg"),
)

vouchers = sa.Table(
    "vouchers",
    unit_metadata,
    ident("id", primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    ident("ref", nullable=False),
    sa.Column("memo", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_vouchers_ref", "ref"),
)

postings = sa.Table(
    "postings",
    unit_metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    ident("voucher_id", nullable=False),
    sa.Column("account_id", sa.String(80), nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_postings_account", "account_id", "id"),
    sa.Index("ix_postings_voucher", "voucher_id"),
)

holds = sa.Table(
    "holds",
    unit_metadata,
    ident("id", primary_key=True),
    sa.Column("account_id", sa.String(80), nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    ident("ref", nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_holds_account", "account_id", "status"),
)
