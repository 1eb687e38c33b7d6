"""Marketing tables.

Campaigns and the per-user grants are global data (configuration, shared by all units): the
budget and the per-user limit are guarded there when a coupon is issued. Each coupon lives in
its owner's unit, next to the trades it pays, so using it is part of the trade's own command.
"""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident, unit_metadata

coupon_campaigns = sa.Table(
    "coupon_campaigns",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("funder", sa.String(12), nullable=False),  # PLATFORM | MERCHANT
    ident("merchant_id", nullable=True),  # MERCHANT: who pays, and the only place it is valid
    sa.Column("face_fen", Money, nullable=False),
    sa.Column("min_spend_fen", Money, nullable=False),
    sa.Column("valid_from_ms", Millis, nullable=False),
    sa.Column("valid_until_ms", Millis, nullable=False),
    sa.Column("per_user_limit", sa.Integer, nullable=False),
    sa.Column("budget_fen", Money, nullable=False),
    sa.Column("issued_fen", Money, nullable=False, server_default="0"),  # face value issued
    sa.Column("issued_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | STOPPED
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.CheckConstraint("issued_fen <= budget_fen", name="ck_coupon_campaigns_budget"),
)

coupon_grants = sa.Table(
    "coupon_grants",
    global_metadata,
    ident("campaign_id", primary_key=True),
    ident("user_id", primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # 1..per_user_limit: the limit is a key
    ident("coupon_id", nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.UniqueConstraint("campaign_id", "request_id", name="uq_coupon_grants_request"),
)

coupons = sa.Table(
    "coupons",
    unit_metadata,
    ident("id", primary_key=True),
    ident("campaign_id", nullable=False),
    ident("user_id", nullable=False),
    sa.Column("funder", sa.String(12), nullable=False),
    ident("merchant_id", nullable=True),
    sa.Column("face_fen", Money, nullable=False),
    sa.Column("min_spend_fen", Money, nullable=False),
    sa.Column("valid_from_ms", Millis, nullable=False),
    sa.Column("valid_until_ms", Millis, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # AVAILABLE | USED
    ident("trade_id", nullable=True),
    sa.Column("used_at_ms", Millis, nullable=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_coupons_user", "user_id", "status"),
)
