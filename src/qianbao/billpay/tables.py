"""Bill payment tables: the billers the platform reaches (global: each is a merchant), the
bill-payment orders and the users' automatic-payment agreements (unit data, the user's unit),
and the daily reconciliation reports (global)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident, unit_metadata


def _stamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_at_ms", Millis, nullable=False),
        sa.Column("updated_at_ms", Millis, nullable=False),
    ]


billers = sa.Table(
    "billers",
    global_metadata,
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("category", sa.String(16), nullable=False),  # WATER POWER GAS PHONE TRAFFIC_FINE
    ident("merchant_id", nullable=False, unique=True),
    sa.Column("created_at_ms", Millis, nullable=False),
)

bill_payments = sa.Table(
    "bill_payments",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("biller_code", sa.String(20), nullable=False),
    ident("merchant_id", nullable=False),
    sa.Column("account_no", sa.String(40), nullable=False),
    sa.Column("holder", sa.String(80), nullable=False),
    sa.Column("bill_id", sa.String(120), nullable=False),
    sa.Column("period", sa.String(20), nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("funding", sa.String(12), nullable=False),
    ident("card_id", nullable=True),
    sa.Column("fee_fen", Money, nullable=False, server_default="0"),
    sa.Column("refunded_fen", Money, nullable=False, server_default="0"),
    ident("agreement_id", nullable=True),  # an automatic payment (代扣) under this consent
    sa.Column("receipt_no", sa.String(40), nullable=False, server_default=""),
    sa.Column("reason", sa.String(100), nullable=False, server_default=""),
    sa.Column("asked_biller", sa.Boolean, nullable=False, server_default=sa.false()),
    # CREATED → PAID (money taken) → SUCCEEDED (written off) | REFUNDED (the biller refused)
    sa.Column("status", sa.String(12), nullable=False),
    *_stamps(),
    sa.UniqueConstraint("user_id", "request_id", name="uq_bill_payments_request"),
    sa.Index("ix_bill_payments_user", "user_id", "created_at_ms"),
    sa.Index("ix_bill_payments_status", "status", "created_at_ms"),
    sa.Index("ix_bill_payments_biller", "biller_code", "updated_at_ms"),
)

autopay_agreements = sa.Table(
    "autopay_agreements",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("biller_code", sa.String(20), nullable=False),
    sa.Column("account_no", sa.String(40), nullable=False),
    sa.Column("max_amount_fen", Money, nullable=False),  # a bill above it waits for the user
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | CANCELLED
    *_stamps(),
    sa.Index("ix_autopay_user", "user_id"),
    sa.Index("ix_autopay_status", "status"),
)

bill_reconciliations = sa.Table(
    "bill_reconciliations",
    global_metadata,
    sa.Column("biller_code", sa.String(20), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),  # BALANCED | DIFFERENCES
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("matched", sa.Integer, nullable=False),
    sa.Column("differences", sa.Integer, nullable=False),
    sa.Column("biller_total_fen", Money, nullable=False),
    sa.Column("platform_total_fen", Money, nullable=False),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("run_at_ms", Millis, nullable=False),
)
