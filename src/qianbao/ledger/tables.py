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

# --- end of day (日终): per-account daily balances, subject summary, daily closing --------------
account_days = sa.Table(
    "ledger_account_days",  # 分户日余额: every account that moved on the day
    unit_metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("account_id", sa.String(80), primary_key=True),
    sa.Column("subject", sa.String(40), nullable=False),
    sa.Column("opening_fen", Money, nullable=False),
    sa.Column("debit_fen", Money, nullable=False),
    sa.Column("credit_fen", Money, nullable=False),
    sa.Column("closing_fen", Money, nullable=False),
)

subject_days = sa.Table(
    "ledger_subject_days",  # 科目汇总: every subject of the chart
    unit_metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("subject", sa.String(40), primary_key=True),
    sa.Column("accounts", sa.Integer, nullable=False),
    sa.Column("opening_fen", Money, nullable=False),
    sa.Column("debit_fen", Money, nullable=False),
    sa.Column("credit_fen", Money, nullable=False),
    sa.Column("closing_fen", Money, nullable=False),
)

day_closings = sa.Table(
    "ledger_day_closings",  # 日结: a closed day is never rewritten
    unit_metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("vouchers", sa.Integer, nullable=False),
    sa.Column("postings", sa.Integer, nullable=False),
    sa.Column("debit_fen", Money, nullable=False),
    sa.Column("credit_fen", Money, nullable=False),
    sa.Column("closed_at_ms", Millis, nullable=False),
    # the day's last posting id: the next close reads the postings after it
    sa.Column("last_posting_id", sa.BigInteger, nullable=False, server_default="0"),
)

account_closings = sa.Table(
    "ledger_account_closings",  # each account's Σ postings at the latest closed day's cut
    unit_metadata,
    sa.Column("account_id", sa.String(80), primary_key=True),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("sum_fen", Money, nullable=False),
)
