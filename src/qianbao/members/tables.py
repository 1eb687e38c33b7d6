"""Member tables (global data: shared by all units, may lag)."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident

users = sa.Table(
    "users",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("id_number_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("id_number_masked", sa.String(18), nullable=False),
    sa.Column("birth_date", sa.String(10), nullable=False),
    sa.Column("phone", sa.String(11), nullable=False, unique=True),
    sa.Column("login_hash", sa.String(200), nullable=False),
    sa.Column("pay_hash", sa.String(200), nullable=False),
    sa.Column("kyc_level", sa.Integer, nullable=False),
    sa.Column("password_free_limit_fen", Money, nullable=False, server_default="0"),
    sa.Column("login_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("login_locked_until_ms", Millis, nullable=False, server_default="0"),
    sa.Column("pay_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pay_locked_until_ms", Millis, nullable=False, server_default="0"),
    sa.Column("status", sa.String(12), nullable=False, server_default="ACTIVE"),
    sa.Column("created_at_ms", Millis, nullable=False),
)

bank_cards = sa.Table(
    "bank_cards",
    global_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("card_masked", sa.String(19), nullable=False),
    sa.Column("status", sa.String(12), nullable=False, server_default="BOUND"),
    sa.Column("created_at_ms", Millis, nullable=False),
    # data at rest (members/vault.py): the number sealed, a keyed token and the last four in clear
    sa.Column("card_token", sa.String(64), nullable=False),
    sa.Column("card_last4", sa.String(4), nullable=False),
    sa.Column("card_cipher", sa.Text, nullable=False),
    sa.UniqueConstraint("user_id", "card_token", name="uq_bank_cards_user_token"),
    sa.Index("ix_bank_cards_user", "user_id"),
)

merchants = sa.Table(
    "merchants",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("name", sa.String(80), nullable=False, unique=True),
    sa.Column("fee_rate", sa.String(12), nullable=False),
    # contract settlement cycle: INSTANT (paid at once) | T1 (day-end settlement of the day)
    sa.Column("settle_cycle", sa.String(8), nullable=False, server_default="INSTANT"),
    # what the merchant sells, set by operators (everyday | medical): a Huabei purchase takes
    # its category (and the medical line above the everyday cap) from here, not from the buyer
    sa.Column("category", sa.String(12), nullable=False, server_default="everyday"),
    sa.Column("status", sa.String(12), nullable=False, server_default="ACTIVE"),
    sa.Column("created_at_ms", Millis, nullable=False),
)

operators = sa.Table(
    "operators",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("name", sa.String(60), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    global_metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("owner_type", sa.String(12), nullable=False),
    ident("owner_id", nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    # ACTIVE -> RETIRING (rotated: valid until expires_at_ms) -> REVOKED (members/credentials.py)
    sa.Column("status", sa.String(12), nullable=False, server_default="ACTIVE"),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False, server_default="0"),  # 0: no expiry
    sa.Column("revoked_at_ms", Millis, nullable=False, server_default="0"),
    sa.Index("ix_api_keys_owner", "owner_type", "owner_id"),
)
# User sessions (bearer tokens) live in ``session_tables.py``.
