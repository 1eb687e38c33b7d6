"""Risk tables.

Unit data (next to the movements they decide, written in the same batch): decisions, the
challenges waiting for an answer, what a user is known by (devices, places, IPs) and the
counters' durable snapshots. Global data (configuration an operator manages, read through
caches by every unit): freezes, list entries, merchant categories, cases and their notes.
"""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata, ident, unit_metadata

risk_decisions = sa.Table(
    "risk_decisions",
    unit_metadata,
    ident("id", primary_key=True),
    sa.Column("movement_kind", sa.String(16), nullable=False),
    ident("movement_id", nullable=False, index=True),
    ident("party_id", nullable=False, index=True),
    ident("payee_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),  # PASS | CHALLENGE | REJECT
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list of {rule, score, detail}
    sa.Column("inputs", sa.Text, nullable=False),  # JSON: the movement, context, features
    sa.Column("rules_version", sa.String(40), nullable=False),
    sa.Column("model_version", sa.String(40), nullable=False),
    ident("challenge_id", nullable=True),
    sa.Column("request_key", sa.String(200), nullable=True),  # a refused request's scope:key
    sa.Column("created_at_ms", Millis, nullable=False, index=True),
)

risk_challenges = sa.Table(
    "risk_challenges",
    unit_metadata,
    ident("id", primary_key=True),
    ident("decision_id", nullable=False),
    ident("movement_id", nullable=False),
    ident("party_id", nullable=False, index=True),
    sa.Column("method", sa.String(16), nullable=False),  # PAY_PASSWORD | SECOND_OPERATOR
    sa.Column("command", sa.Text, nullable=False),  # the encoded command, resumed when answered
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("approvals", sa.Text, nullable=False, server_default=""),  # operator names
    ident("code_id", nullable=True),  # a one-time code sent for it (notices)
    sa.Column("expires_at_ms", Millis, nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)

risk_known = sa.Table(
    "risk_known",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # DEVICE | IP | PAYEE | PAYER
    sa.Column("value", sa.String(200), primary_key=True),
    sa.Column("first_seen_ms", Millis, nullable=False),
)

risk_snapshots = sa.Table(
    "risk_snapshots",
    unit_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("taken_at_ms", Millis, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # JSON: counters' events within the window
)

risk_freezes = sa.Table(
    "risk_freezes",
    global_metadata,
    ident("id", primary_key=True),
    sa.Column("party_kind", sa.String(10), nullable=False),  # USER | CARD | MERCHANT
    ident("party_id", nullable=False, index=True),
    sa.Column("status", sa.String(10), nullable=False),  # ACTIVE | LIFTED
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("operator", sa.String(60), nullable=False),
    sa.Column("lifted_by", sa.String(60), nullable=True),
    sa.Column("lift_reason", sa.String(200), nullable=True),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)

risk_list_entries = sa.Table(
    "risk_list_entries",
    global_metadata,
    sa.Column("list_name", sa.String(8), primary_key=True),  # BLOCK | ALLOW | WATCH
    sa.Column("kind", sa.String(10), primary_key=True),  # USER | DEVICE | CARD | IP | MERCHANT
    sa.Column("value", sa.String(200), primary_key=True),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("operator", sa.String(60), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
)

risk_merchant_categories = sa.Table(
    "risk_merchant_categories",
    global_metadata,
    ident("merchant_id", primary_key=True),
    sa.Column("category", sa.String(30), nullable=False),
    sa.Column("operator", sa.String(60), nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)

risk_cases = sa.Table(
    "risk_cases",
    global_metadata,
    ident("id", primary_key=True),
    ident("party_id", nullable=False, index=True),
    ident("decision_id", nullable=True),
    sa.Column("source", sa.String(30), nullable=False),  # DECISION | DETECTOR | OPERATOR
    sa.Column("summary", sa.String(300), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # OPEN | ASSIGNED | CLOSED
    sa.Column("assignee", sa.String(60), nullable=True),
    sa.Column("label", sa.String(20), nullable=True),  # CONFIRMED_FRAUD | FALSE_POSITIVE
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Column("updated_at_ms", Millis, nullable=False),
)

risk_case_notes = sa.Table(
    "risk_case_notes",
    global_metadata,
    ident("case_id", primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("operator", sa.String(60), nullable=False),
    sa.Column("text", sa.String(2000), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
)

risk_detector_marks = sa.Table(
    "risk_detector_marks",
    global_metadata,
    sa.Column("unit", sa.Integer, primary_key=True),
    sa.Column("last_ms", Millis, nullable=False),  # decisions up to here were seen
    sa.Column("updated_at_ms", Millis, nullable=False),
)
