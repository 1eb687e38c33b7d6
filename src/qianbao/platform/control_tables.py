"""Run-time controls in the global database: the limits and degradation switches operators
change without a restart (``platform/controls.py``). Every process re-reads them."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata

runtime_controls = sa.Table(
    "runtime_controls",
    global_metadata,
    sa.Column("kind", sa.String(12), primary_key=True),  # limit | switch
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),  # "20/40" or "off"; "on" or "off"
    sa.Column("reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("updated_by", sa.String(40), nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)
