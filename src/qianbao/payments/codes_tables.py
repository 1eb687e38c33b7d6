"""Payment-code funding (unit data, the buyer's unit): what a buyer's 付款码 draws on.

``payment_code_settings`` is the buyer's standing choice; ``payment_code_funding`` is the choice
fixed on each issued code (so the till charges what the buyer's screen showed). A code without
a row draws on the balance, as codes always did.
"""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, ident, unit_metadata

payment_code_settings = sa.Table(
    "payment_code_settings",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("funding", sa.String(12), nullable=False),  # BALANCE | HUABEI
    sa.Column("updated_at_ms", Millis, nullable=False),
)

payment_code_funding = sa.Table(
    "payment_code_funding",
    unit_metadata,
    sa.Column("code", sa.String(18), primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("funding", sa.String(12), nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False),
    sa.Index("ix_payment_code_funding_user", "user_id", "expires_at_ms"),
)
