"""Yu'e Bao's tables (unit data: each holder's orders live in the holder's unit).

The money and the shares are ledger accounts (``fund_shares:<user>`` and friends, see
``ledger/chart.py``); these tables record the orders and the day-end runs that move them.
"""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, ident, unit_metadata

yuebao_orders = sa.Table(
    "yuebao_orders",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # SUBSCRIBE | REDEEM
    # SUBSCRIBE: BALANCE | CARD | REFUND (a payment's refund back to Yu'e Bao);
    # REDEEM: FAST | NORMAL | PAY (a payment) | AUTODEBIT (a Huabei repayment)
    sa.Column("mode", sa.String(12), nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # ACCEPTED -> SENT -> CONFIRMED
    sa.Column("day", sa.String(10), nullable=False),  # business date it was placed
    sa.Column("trade_date", sa.String(10), nullable=False),  # T
    sa.Column("confirm_date", sa.String(10), nullable=False),  # T+1
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("ref", sa.String(64), nullable=False, server_default=""),
    # the change to the holder's confirmed shares and when it happened (the income snapshot)
    sa.Column("shares_delta_fen", Money, nullable=False, server_default="0"),
    sa.Column("shares_at_ms", Millis, nullable=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_yuebao_orders_user", "user_id", "day"),
    sa.Index("ix_yuebao_orders_status", "status", "trade_date"),
    sa.Index("ix_yuebao_orders_shares_at", "shares_at_ms"),
)

yuebao_days = sa.Table(
    "yuebao_days",  # each day-end step done, once (idempotent and restartable per day)
    unit_metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("step", sa.String(12), primary_key=True),  # SEND | CONFIRM | INCOME | RECONCILE
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("at_ms", Millis, nullable=False),
)
