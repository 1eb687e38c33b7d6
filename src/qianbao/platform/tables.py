"""Platform tables in every unit: idempotency keys, outbox/inbox of transactional messages."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, ident, unit_metadata

idempotency_keys = sa.Table(
    "idempotency_keys",
    unit_metadata,
    sa.Column("scope", sa.String(80), primary_key=True),
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    ident("result_ref", nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
)

messages = sa.Table(
    "messages",
    unit_metadata,
    ident("id", primary_key=True),
    sa.Column("dest_unit", sa.Integer, nullable=False),
    sa.Column("topic", sa.String(60), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_messages_status", "status", "created_at_ms"),
)

inbox = sa.Table(
    "inbox",
    unit_metadata,
    ident("message_id", primary_key=True),
    sa.Column("topic", sa.String(60), nullable=False),
    sa.Column("handled_at_ms", Millis, nullable=False),
)
