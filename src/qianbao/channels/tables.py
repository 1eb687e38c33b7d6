"""Our own record of every request sent to a bank channel (渠道流水) and each day's
reconciliation of it with the bank's statement (渠道对账). Global: a channel spans all units."""

from __future__ import annotations

import sqlalchemy as sa

from qianbao.platform.schema import Millis, Money, global_metadata

channel_requests = sa.Table(
    "channel_requests",
    global_metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # charge | payout
    sa.Column("account_no", sa.Text, nullable=False),  # sealed (channels/journal.py)
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # SENT | SUCCEEDED | FAILED | UNKNOWN
    sa.Column("sent_at_ms", Millis, nullable=False),
    sa.Column("answered_at_ms", Millis),
    sa.Column("redrive_of", sa.String(64)),  # an operator re-sent this failed payout
    sa.Index("ix_channel_requests_sent", "channel", "sent_at_ms"),
)

channel_reconciliations = sa.Table(
    "channel_reconciliations",
    global_metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),  # BALANCED | DIFFERENCES
    sa.Column("bank_lines", sa.Integer, nullable=False),
    sa.Column("matched", sa.Integer, nullable=False),
    sa.Column("differences", sa.Integer, nullable=False),
    sa.Column("bank_closing_fen", Money, nullable=False),
    sa.Column("ledger_closing_fen", Money, nullable=False),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("run_at_ms", Millis, nullable=False),
)

# An operator's note that a reconciliation difference needing no booking was investigated and
# settled (an amount or kind mismatch explained, a platform-only line handled): one per line.
channel_difference_notes = sa.Table(
    "channel_difference_notes",
    global_metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("operator_id", sa.String(40), nullable=False),
    sa.Column("note", sa.String(200), nullable=False),
    sa.Column("resolved_at_ms", Millis, nullable=False),
)
