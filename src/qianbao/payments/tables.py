"""Payment tables (unit data: each row lives in the unit of the user who started it)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, ident, unit_metadata


def _timestamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_at_ms", Millis, nullable=False),
        sa.Column("updated_at_ms", Millis, nullable=False),
    ]


bank_orders = sa.Table(
    "bank_orders",
    unit_metadata,
    ident("id", primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # TOPUP | WITHDRAW
    ident("user_id", nullable=False),
    ident("card_id", nullable=False),
    # no card number here (issue 11): the bank request opens the card's sealed number
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    sa.Column("free_quota_used_fen", Money, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    *_timestamps(),
    sa.Index("ix_bank_orders_user", "user_id", "created_at_ms"),
    sa.Index("ix_bank_orders_status", "status", "created_at_ms"),
)

withdraw_quota = sa.Table(
    "withdraw_quota",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("used_fen", Money, nullable=False),
)

transfers = sa.Table(
    "transfers",
    unit_metadata,
    ident("id", primary_key=True),
    ident("from_user_id", nullable=False),
    ident("to_user_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("cross_unit", sa.Boolean, nullable=False),
    sa.Column("memo", sa.String(100), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    *_timestamps(),
    sa.Index("ix_transfers_from", "from_user_id", "created_at_ms"),
)

payments = sa.Table(
    "payments",
    unit_metadata,
    ident("id", primary_key=True),
    ident("payer_id", nullable=False),
    ident("merchant_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    sa.Column("refunded_fen", Money, nullable=False),
    sa.Column("fee_refunded_fen", Money, nullable=False),
    sa.Column("memo", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # BALANCE or YUEBAO: where the money came from, and where a refund sends it back
    sa.Column("funding", sa.String(12), nullable=False, server_default="BALANCE"),
    *_timestamps(),
    sa.Index("ix_payments_payer", "payer_id", "created_at_ms"),
    sa.CheckConstraint("refunded_fen <= amount_fen", name="ck_payments_refund_le_amount"),
)

refunds = sa.Table(
    "refunds",
    unit_metadata,
    ident("id", primary_key=True),
    ident("payment_id", nullable=False),
    ident("merchant_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("fee_refund_fen", Money, nullable=False),
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    *_timestamps(),
    sa.Index("ix_refunds_payment", "payment_id"),
)

merchant_activity = sa.Table(
    "merchant_activity",
    unit_metadata,
    ident("merchant_id", primary_key=True),
    ident("ref_id", primary_key=True),
    sa.Column("kind", sa.String(12), nullable=False),  # PAYMENT | REFUND
    ident("payment_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    sa.Column("at_ms", Millis, nullable=False),
    sa.Index("ix_merchant_activity_time", "merchant_id", "at_ms"),
)

daily_spend = sa.Table(
    "daily_spend",
    unit_metadata,
    ident("owner_id", primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("spent_fen", Money, nullable=False),
)
