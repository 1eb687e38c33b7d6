"""Red packet tables. A packet and its pre-split shares live in the sender's unit (the money
waits there in the unit's red-packet holding account); groups are global (a list of users)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident, unit_metadata

red_packets = sa.Table(
    "red_packets",
    unit_metadata,
    ident("id", primary_key=True),
    ident("sender_id", nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # PERSONAL | FIXED | RANDOM
    ident("recipient_id", nullable=True),  # PERSONAL
    ident("group_id", nullable=True),  # FIXED | RANDOM
    sa.Column("total_fen", Money, nullable=False),
    sa.Column("shares", sa.Integer, nullable=False),
    sa.Column("claimed_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_fen", Money, nullable=False, server_default="0"),
    sa.Column("refunded_fen", Money, nullable=False, server_default="0"),
    sa.Column("message", sa.String(120), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | FINISHED | REFUNDED
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.CheckConstraint("claimed_fen + refunded_fen <= total_fen", name="ck_red_packets_money"),
    sa.CheckConstraint("claimed_count <= shares", name="ck_red_packets_shares"),
    sa.Index("ix_red_packets_sender", "sender_id", "created_at_ms"),
    sa.Index("ix_red_packets_due", "status", "expires_at_ms"),
)

red_packet_shares = sa.Table(
    "red_packet_shares",
    unit_metadata,
    ident("packet_id", primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # claimed in this order
    sa.Column("amount_fen", Money, nullable=False),
    ident("claimer_id", nullable=True),
    sa.Column("claimed_at_ms", Millis, nullable=True),
    sa.CheckConstraint("amount_fen >= 1", name="ck_red_packet_shares_min"),
    sa.UniqueConstraint("packet_id", "claimer_id", name="uq_red_packet_shares_claimer"),
)

red_groups = sa.Table(
    "red_groups",
    global_metadata,
    ident("id", primary_key=True),
    ident("owner_id", nullable=False),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
)

red_group_members = sa.Table(
    "red_group_members",
    global_metadata,
    ident("group_id", primary_key=True),
    ident("user_id", primary_key=True),
    sa.Column("joined_at_ms", Millis, nullable=False),
    sa.Index("ix_red_group_members_user", "user_id"),
)
