"""Open platform tables (global data: apps and keys are configuration, shared by all units)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata, ident

open_apps = sa.Table(
    "open_apps",
    global_metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    ident("merchant_id", nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("app_public_key", sa.Text, nullable=False),  # the merchant's RSA key (PEM)
    sa.Column("platform_private_key", sa.Text, nullable=False),  # ours for this app (PEM)
    sa.Column("platform_public_key", sa.Text, nullable=False),
    sa.Column("notify_url", sa.String(256), nullable=False, server_default=""),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_open_apps_merchant", "merchant_id"),
)

gateway_seen = sa.Table(
    "gateway_seen",
    global_metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("sign_hash", sa.String(64), primary_key=True),
    sa.Column("seen_at_ms", Millis, nullable=False),
    sa.Index("ix_gateway_seen_time", "seen_at_ms"),
)
