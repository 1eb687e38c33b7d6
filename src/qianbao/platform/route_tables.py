"""Global tables of the route table and of bucket moves (ADR 0935).

``route_versions``: every change of the route table is a new row; the highest version is the
table in force: how many units exist, which unit is home to each bucket (the ranges form of
``platform/routing.py``) and which buckets are paused for a move. Every process loads it at start
(it overrides the ``route_table`` setting once it exists) and refreshes it while it runs.

``bucket_moves``: one row per move, its state PLANNED -> PAUSED -> COPIED -> SWITCHED -> RETIRED
(or PLANNED/PAUSED -> ABORTED), with the figures its check found.
"""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, global_metadata, ident

route_versions = sa.Table(
    "route_versions",
    global_metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("unit_count", sa.Integer, nullable=False),
    sa.Column("routes", sa.Text, nullable=False),
    sa.Column("paused", sa.Text, nullable=False, server_default=""),
    sa.Column("reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at_ms", Millis, nullable=False),
)

bucket_moves = sa.Table(
    "bucket_moves",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("bucket", sa.Integer, nullable=False),
    sa.Column("from_unit", sa.Integer, nullable=False),
    sa.Column("to_unit", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("report", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
    sa.Index("ix_bucket_moves_bucket", "bucket", "status"),
)
