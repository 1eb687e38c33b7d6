"""T+1 settlement batches (unit data).

One row per merchant per business day in each unit where the merchant's T+1 trades booked money
that day. While the day is open the row accumulates what reached the merchant's pending account
(``merchant_unsettled``); the day-end job settles it (OPEN -> SETTLED) with one voucher.
"""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, ident, unit_metadata

settlement_batches = sa.Table(
    "settlement_batches",
    unit_metadata,
    ident("id", primary_key=True),
    ident("merchant_id", nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # business date, YYYY-MM-DD
    sa.Column("unit", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # OPEN | SETTLED
    sa.Column("gross_fen", Money, nullable=False, server_default="0"),  # payments + releases
    sa.Column("fee_fen", Money, nullable=False, server_default="0"),  # fees net of fee refunds
    sa.Column("refund_fen", Money, nullable=False, server_default="0"),  # refunds (gross)
    # part of the day's refunds paid from the merchant's balance (the day's pot was short)
    sa.Column("from_balance_fen", Money, nullable=False, server_default="0"),
    sa.Column("net_fen", Money, nullable=False, server_default="0"),  # held; moved at day end
    sa.Column("lines", sa.Integer, nullable=False, server_default="0"),
    ident("voucher_id", nullable=True),
    sa.Column("settled_at_ms", Millis, nullable=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.UniqueConstraint("merchant_id", "day", name="uq_settlement_batches_merchant_day"),
    sa.Index("ix_settlement_batches_status_day", "status", "day"),
    sa.CheckConstraint("net_fen >= 0", name="ck_settlement_batches_net"),
)
