"""Full-reduction tables: campaigns (global configuration), each unit's slice of a campaign's
budget, and the offers used by payments (unit data, beside the payment)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident, unit_metadata

reduction_campaigns = sa.Table(
    "reduction_campaigns",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("funder", sa.String(12), nullable=False),  # PLATFORM | MERCHANT
    ident("merchant_id", nullable=True),  # None: every merchant (platform-funded only)
    sa.Column("tiers_json", sa.String(400), nullable=False),  # [[threshold_fen, off_fen], ...]
    sa.Column("valid_from_ms", Millis, nullable=False),
    sa.Column("valid_until_ms", Millis, nullable=False),
    sa.Column("budget_fen", Money, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | STOPPED
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_reduction_campaigns_merchant", "merchant_id"),
)

reduction_budgets = sa.Table(
    "reduction_budgets",
    unit_metadata,
    ident("campaign_id", primary_key=True),
    sa.Column("budget_fen", Money, nullable=False),  # this unit's slice of the budget
    sa.Column("spent_fen", Money, nullable=False, server_default="0"),
    sa.CheckConstraint("spent_fen >= 0 AND spent_fen <= budget_fen", name="ck_reduction_budget"),
)

reduction_uses = sa.Table(
    "reduction_uses",
    unit_metadata,
    ident("payment_id", primary_key=True),
    ident("campaign_id", nullable=False),
    sa.Column("offer_fen", Money, nullable=False),
    sa.Column("funder", sa.String(12), nullable=False),
    sa.Column("refunded_fen", Money, nullable=False, server_default="0"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.CheckConstraint("refunded_fen <= offer_fen", name="ck_reduction_use_refund"),
    sa.Index("ix_reduction_uses_campaign", "campaign_id"),
)
