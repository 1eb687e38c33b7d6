"""The data keys of envelope encryption (``platform/crypto.py``), in the global database: each
wrapped by a key-encryption key that is configured, never stored here."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata

data_keys = sa.Table(
    "data_keys",
    global_metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("purpose", sa.String(8), nullable=False),  # DATA (rotates) | TOKEN (HMAC, kept)
    sa.Column("kek_id", sa.String(40), nullable=False),
    sa.Column("wrapped_key", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | RETIRED
    sa.Column("created_at_ms", Millis, nullable=False),
)
