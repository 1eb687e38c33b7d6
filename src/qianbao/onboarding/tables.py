"""Onboarding tables (global data, like the merchants they create)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata, ident

merchant_applications = sa.Table(
    "merchant_applications",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("application_no", sa.String(24), nullable=False, unique=True),
    sa.Column("business_name", sa.String(80), nullable=False),
    sa.Column("licence_no", sa.String(18), nullable=False),
    # the licence while the application is live (SUBMITTED or APPROVED), NULL once rejected:
    # the database refuses a second live application for one licence
    sa.Column("licence_live", sa.String(18), nullable=True, unique=True),
    sa.Column("contact_name", sa.String(60), nullable=False),
    sa.Column("contact_phone", sa.String(11), nullable=False),
    sa.Column("contact_email", sa.String(120), nullable=False),
    sa.Column("category", sa.String(12), nullable=False),
    # the settlement account at rest: sealed by the vault, a keyed token and the last four
    sa.Column("bank_cipher", sa.Text, nullable=False),
    sa.Column("bank_token", sa.String(64), nullable=False),
    sa.Column("bank_last4", sa.String(4), nullable=False),
    sa.Column("account_holder", sa.String(80), nullable=False),
    # SUBMITTED -> APPROVED | REJECTED (onboarding/applications.py)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("reject_reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("merchant_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("decided_by", sa.String(40), nullable=False, server_default=""),
    sa.Column("submitted_by", sa.String(40), nullable=False, server_default=""),  # '' = web
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_merchant_applications_status", "status", "created_at_ms"),
)

merchant_logins = sa.Table(
    "merchant_logins",
    global_metadata,
    ident("merchant_id", primary_key=True),
    sa.Column("email", sa.String(120), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False, server_default=""),
    sa.Column("activation_hash", sa.String(64), nullable=False, server_default=""),
    sa.Column("activation_expires_at_ms", Millis, nullable=False, server_default="0"),
    # PENDING (activation code issued) -> ACTIVE (password set)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)
