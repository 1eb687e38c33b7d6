"""Money-out tables: the merchant's settlement account on file (global), the orders and the
monthly free allowance of card transfers (unit data, in the payer's home unit)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident, unit_metadata

merchant_bank_accounts = sa.Table(
    "merchant_bank_accounts",
    global_metadata,
    ident("merchant_id", primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("account_no", sa.String(19), nullable=False),
    sa.Column("holder_name", sa.String(80), nullable=False),
    # automatic daily payout of the whole balance (T+1 at the start of the next day)
    sa.Column("auto_payout", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)

money_out_orders = sa.Table(
    "money_out_orders",
    unit_metadata,
    ident("id", primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # MERCHANT_PAYOUT | CARD_TRANSFER
    ident("owner_id", nullable=False),  # the merchant or the user
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("source_account", sa.String(80), nullable=False),  # the ledger account debited
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("account_no", sa.String(19), nullable=False),
    sa.Column("holder_name", sa.String(80), nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    sa.Column("free_used_fen", Money, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # the free allowance's month (YYYY-MM)
    sa.Column("memo", sa.String(100), nullable=False, server_default=""),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("asked_bank", sa.Boolean, nullable=False, server_default=sa.false()),
    *(
        sa.Column("created_at_ms", Millis, nullable=False),
        sa.Column("updated_at_ms", Millis, nullable=False),
    ),
    sa.UniqueConstraint("owner_id", "kind", "request_id", name="uq_money_out_request"),
    sa.Index("ix_money_out_owner", "owner_id", "created_at_ms"),
    sa.Index("ix_money_out_status", "status", "created_at_ms"),
)

card_transfer_quota = sa.Table(
    "card_transfer_quota",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("used_fen", Money, nullable=False),
)
