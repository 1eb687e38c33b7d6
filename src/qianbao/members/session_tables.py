"""Tables of sessions, trusted devices, the login throttle and the revocation epoch (global
data). See ``sessions.py``, ``credentials.py``, ``throttle.py`` and ADR 0801/0802."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata, ident

# One row per login: the bearer token is stored as its SHA-256 only.
user_sessions = sa.Table(
    "user_sessions",
    global_metadata,
    sa.Column("session_id", sa.String(24), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    ident("user_id", nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("expires_at_ms", Millis, nullable=False),
    sa.Column("revoked_at_ms", Millis, nullable=False, server_default="0"),  # 0: not revoked
    sa.Column("revoked_by", sa.String(60), nullable=False, server_default=""),
    sa.Column("client", sa.String(120), nullable=False, server_default=""),
    sa.Column("ip", sa.String(45), nullable=False, server_default=""),
    sa.Index("ix_user_sessions_user", "user_id", "created_at_ms"),
)

# Devices a user logged in from (a device token, stored as its SHA-256): a known device skips
# the per-phone login delay.
user_devices = sa.Table(
    "user_devices",
    global_metadata,
    ident("user_id", primary_key=True),
    sa.Column("device_hash", sa.String(64), primary_key=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("last_login_ms", Millis, nullable=False),
)

# Failed logins per throttle key ("p:<phone>", "i:<address>", "pi:<phone>|<address>").
login_throttle = sa.Table(
    "login_throttle",
    global_metadata,
    sa.Column("throttle_key", sa.String(80), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_failure_ms", Millis, nullable=False),
    sa.Column("blocked_until_ms", Millis, nullable=False),
)

# One counter per kind of credential, raised by every revocation: each process re-reads it at
# most once a second and drops its cached credentials when it moved.
credential_epochs = sa.Table(
    "credential_epochs",
    global_metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("epoch", sa.BigInteger, nullable=False),
)

# Step-up challenges (members/stepup.py): a one-time code sent for one purpose (new_device,
# bind_card, payment); answered, it grants that purpose once, for a few minutes.
step_up_challenges = sa.Table(
    "step_up_challenges",
    global_metadata,
    sa.Column("challenge_id", sa.String(40), primary_key=True),  # the notices code id
    ident("user_id", nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("granted_at_ms", Millis, nullable=False, server_default="0"),
    sa.Column("used_at_ms", Millis, nullable=False, server_default="0"),
    sa.Index("ix_step_up_user", "user_id", "purpose", "granted_at_ms"),
)
