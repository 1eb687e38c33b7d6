"""Notification tables, in the user's home unit: the notices (the service's outbox: a row is
written in the caller's transaction and a worker delivers it), each user's preferences, and the
one-time codes (hashed). The gateways' own delivery log lives in the simulator's database."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, ident, unit_metadata

notices = sa.Table(
    "notices",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("dedupe_key", sa.String(120), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON, without the secret parameters
    sa.Column("sealed", sa.Text, nullable=True),  # secret parameters, AES-GCM; wiped once sent
    sa.Column("status", sa.String(12), nullable=False),  # QUEUED | SENDING | SENT | FAILED
    sa.Column("deliver_after_ms", Millis, nullable=False),  # quiet hours push it later
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("channel", sa.String(8), nullable=True),  # as delivered
    sa.Column("language", sa.String(4), nullable=True),
    sa.Column("body", sa.Text, nullable=True),  # as delivered (NULL for a kind with secrets)
    sa.Column("provider_ref", sa.String(60), nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Column("sent_at_ms", Millis, nullable=True),
    sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notices_dedupe"),
    sa.Index("ix_notices_due", "status", "deliver_after_ms"),
    sa.Index("ix_notices_user", "user_id", "created_at_ms"),
)

notice_prefs = sa.Table(
    "notice_prefs",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("language", sa.String(4), nullable=False),  # zh | en
    sa.Column("channel", sa.String(8), nullable=False),  # SMS | PUSH | EMAIL
    sa.Column("email", sa.String(120), nullable=True),
    sa.Column("quiet_start_min", sa.Integer, nullable=False),  # minutes after local midnight
    sa.Column("quiet_end_min", sa.Integer, nullable=False),  # equal to start: no quiet hours
    sa.Column("updated_at_ms", Millis, nullable=False),
)

one_time_codes = sa.Table(
    "one_time_codes",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),  # HMAC-SHA256(secret, id:code)
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | USED | LOCKED | EXPIRED | ...
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False),
    ident("notice_id", nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_one_time_codes_user", "user_id", "purpose", "created_at_ms"),
)
