"""Stored scores (unit data, in the user's unit): every score names the card that made it."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, ident, unit_metadata

credit_scores = sa.Table(
    "credit_scores",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("card_version", sa.String(40), nullable=False),
    sa.Column("behaviour_version", sa.String(40), nullable=False),
    sa.Column("reason", sa.String(20), nullable=False),  # APPLICATION | RESCORE
    sa.Column("answers", sa.Text, nullable=False),  # JSON: the applicant's answers
    sa.Column("result", sa.Text, nullable=False),  # JSON: points, dimensions, reasons
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_credit_scores_user", "user_id", "created_at_ms"),
)
