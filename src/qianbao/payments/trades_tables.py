"""Trade tables (unit data).

``trade_orders`` live in the *order unit* chosen from ``(merchant_id, out_trade_no)``: they make
``out_trade_no`` unique per merchant and route a merchant's query to the trade. ``trades`` live
in the *buyer's* unit, with their refunds, payment codes and notifications, so the money of a
trade never crosses units (see docs/decisions/0301-trade-routing.md).
"""

from __future__ import annotations

import sqlalchemy as sa

import qianbao.openapi.tables  # noqa: F401  (the open platform's global tables load with these)
from qianbao.platform.schema import Millis, Money, ident, unit_metadata


def _timestamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_at_ms", Millis, nullable=False),
        sa.Column("updated_at_ms", Millis, nullable=False),
    ]


trade_orders = sa.Table(
    "trade_orders",
    unit_metadata,
    ident("id", primary_key=True),  # the order id (in QR links); its bucket is the order unit
    ident("merchant_id", nullable=False),
    sa.Column("out_trade_no", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("product", sa.String(12), nullable=False),  # INSTANT | SECURED
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("total_amount_fen", Money, nullable=False),
    sa.Column("timeout_at_ms", Millis, nullable=True),
    sa.Column("app_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("notify_url", sa.String(256), nullable=False, server_default=""),
    ident("trade_id", nullable=True),  # set once a buyer is bound (the trade in its unit)
    ident("buyer_id", nullable=True),
    sa.Column("status", sa.String(12), nullable=False),  # OPEN | BOUND | CLOSED
    *_timestamps(),
    sa.UniqueConstraint("merchant_id", "out_trade_no", name="uq_trade_orders_out_trade_no"),
    sa.Index("ix_trade_orders_status", "status", "timeout_at_ms"),
)

trades = sa.Table(
    "trades",
    unit_metadata,
    ident("id", primary_key=True),  # trade_no
    ident("order_id", nullable=False),
    ident("merchant_id", nullable=False),
    sa.Column("out_trade_no", sa.String(64), nullable=False),
    ident("buyer_id", nullable=False),
    sa.Column("product", sa.String(12), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("total_amount_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False, server_default="0"),
    sa.Column("refunded_fen", Money, nullable=False, server_default="0"),
    sa.Column("fee_refunded_fen", Money, nullable=False, server_default="0"),
    sa.Column("released_fen", Money, nullable=False, server_default="0"),  # escrow -> seller
    sa.Column("funding", sa.String(12), nullable=False, server_default=""),  # BALANCE|CARD|HUABEI
    # Huabei installment fee the merchant subsidises (out of its proceeds), and what came back
    sa.Column("subsidy_fen", Money, nullable=False, server_default="0"),
    sa.Column("subsidy_refunded_fen", Money, nullable=False, server_default="0"),
    ident("card_id", nullable=True),
    # one coupon at the cashier: its face value, who funds it (PLATFORM | MERCHANT), refunded part
    ident("coupon_id", nullable=True),
    sa.Column("coupon_fen", Money, nullable=False, server_default="0"),
    sa.Column("coupon_funder", sa.String(12), nullable=False, server_default=""),
    sa.Column("coupon_refunded_fen", Money, nullable=False, server_default="0"),
    # a full-reduction offer (满减) at the cashier: its part, its funder, its refunded part
    ident("offer_id", nullable=True),
    sa.Column("offer_fen", Money, nullable=False, server_default="0"),
    sa.Column("offer_funder", sa.String(12), nullable=False, server_default=""),
    sa.Column("offer_refunded_fen", Money, nullable=False, server_default="0"),
    sa.Column("status", sa.String(28), nullable=False),
    sa.Column("dispute_from", sa.String(28), nullable=True),
    sa.Column("timeout_at_ms", Millis, nullable=True),
    sa.Column("paid_at_ms", Millis, nullable=True),
    sa.Column("shipped_at_ms", Millis, nullable=True),
    sa.Column("auto_confirm_at_ms", Millis, nullable=True),
    sa.Column("ended_at_ms", Millis, nullable=True),
    sa.Column("app_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("notify_url", sa.String(256), nullable=False, server_default=""),
    *_timestamps(),
    sa.UniqueConstraint("merchant_id", "out_trade_no", name="uq_trades_out_trade_no"),
    sa.Index("ix_trades_status", "status", "timeout_at_ms"),
    sa.Index("ix_trades_merchant_time", "merchant_id", "created_at_ms"),
    sa.Index("ix_trades_buyer_time", "buyer_id", "created_at_ms"),
    sa.CheckConstraint("refunded_fen <= total_amount_fen", name="ck_trades_refund_le_total"),
)

trade_refunds = sa.Table(
    "trade_refunds",
    unit_metadata,
    ident("id", primary_key=True),
    ident("trade_id", nullable=False),
    ident("merchant_id", nullable=False),
    sa.Column("out_request_no", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # REFUND | DISPUTE_REFUND
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("fee_refund_fen", Money, nullable=False),
    sa.Column("subsidy_refund_fen", Money, nullable=False, server_default="0"),
    sa.Column("coupon_refund_fen", Money, nullable=False, server_default="0"),  # to the funder
    sa.Column("offer_refund_fen", Money, nullable=False, server_default="0"),  # to its funder
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    *_timestamps(),
    sa.UniqueConstraint("trade_id", "out_request_no", name="uq_trade_refunds_request"),
    sa.Index("ix_trade_refunds_merchant_time", "merchant_id", "created_at_ms"),
)

trade_compensations = sa.Table(
    "trade_compensations",
    unit_metadata,
    ident("id", primary_key=True),
    ident("trade_id", nullable=False),
    ident("buyer_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    ident("operator_id", nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.UniqueConstraint("trade_id", name="uq_trade_compensations_trade"),
)

payment_codes = sa.Table(
    "payment_codes",
    unit_metadata,
    sa.Column("code", sa.String(18), primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False),
    ident("trade_id", nullable=True),  # set when used (single use)
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_payment_codes_expiry", "expires_at_ms"),
)

notify_tasks = sa.Table(
    "notify_tasks",
    unit_metadata,
    ident("id", primary_key=True),
    ident("trade_id", nullable=False),
    ident("merchant_id", nullable=False),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("notify_url", sa.String(256), nullable=False),
    sa.Column("event", sa.String(24), nullable=False),  # TRADE_SUCCESS, REFUND, ...
    sa.Column("params", sa.Text, nullable=False),  # JSON of the unsigned notification fields
    sa.Column("status", sa.String(12), nullable=False),  # PENDING | DELIVERED | GAVE_UP
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at_ms", Millis, nullable=False),
    sa.Column("last_result", sa.String(200), nullable=False, server_default=""),
    *_timestamps(),
    sa.Index("ix_notify_tasks_due", "status", "next_at_ms"),
    sa.Index("ix_notify_tasks_trade", "trade_id"),
)

notify_attempts = sa.Table(
    "notify_attempts",
    unit_metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    ident("task_id", nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at_ms", Millis, nullable=False),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(12), nullable=False),  # SUCCESS | FAILED
    sa.Column("detail", sa.String(200), nullable=False),
    sa.Index("ix_notify_attempts_task", "task_id", "attempt"),
)
