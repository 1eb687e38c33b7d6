"""The merchant's activity index: every payment and refund to a merchant, whatever paid it, in
the merchant's home unit, so a merchant reads its activity from one place.

When the payer's unit is the merchant's home, the row is written in the payment's own
transaction. Otherwise the batch's activities for each home unit travel as **one** transactional
message per batch (``merchant.activities``), not one per payment: one outbox row, one relay
read, one inbox row for the lot (docs/decisions/0013-one-activity-message-per-batch.md). The
single-activity topic (``merchant.activity``) is still consumed, for messages sent before.
"""

from __future__ import annotations

from typing import Any

from qianbao.payments import store
from qianbao.platform import messages
from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.writer import WriteContext

ACTIVITY, ACTIVITIES = "merchant.activity", "merchant.activities"


def record_activity(
    ctx: WriteContext,
    merchant_id: str,
    ref_id: str,
    kind: str,
    payment_id: str,
    amount_fen: int,
    fee_fen: int,
) -> None:
    """Tell the merchant's home unit about a payment or refund (``ref_id`` is its voucher ref):
    written now when this unit is the home, else sent with the batch's other activities."""
    activity = {
        "merchant_id": merchant_id,
        "ref_id": ref_id,
        "kind": kind,
        "payment_id": payment_id,
        "amount_fen": amount_fen,
        "fee_fen": fee_fen,
        "at_ms": clock.now_ms(),
    }
    home = ctx.platform.unit_of(merchant_id)
    if home == ctx.unit:
        store.insert_activity(ctx.tx, activity)
    else:
        outgoing: _Outgoing = ctx.participant("payments.activities", _Outgoing)
        outgoing.items.append((home, activity))


class _Outgoing:
    """Batch participant: the activities bound for other units, one message per home unit sent
    when the batch commits (in its transaction); a failing command's activities go with it."""

    def __init__(self, ctx: WriteContext) -> None:
        self.ctx = ctx
        self.items: list[tuple[int, dict[str, Any]]] = []

    def mark(self) -> int:
        return len(self.items)

    def rollback_to(self, mark: int | None) -> None:
        del self.items[mark or 0 :]

    def before_commit(self, tx: Tx) -> None:
        by_home: dict[int, list[dict[str, Any]]] = {}
        for home, activity in self.items:
            by_home.setdefault(home, []).append(activity)
        self.items = []
        for home, activities in by_home.items():
            payload = {"unit": self.ctx.unit, "items": activities}
            messages.send_at_commit(self.ctx, home, ACTIVITIES, payload)

    def after_commit(self) -> None:
        pass


def index_activity(ctx: WriteContext, m: dict[str, Any]) -> None:
    """The consumer of one activity (``merchant.activity``)."""
    store.insert_activity(ctx.tx, m)


def index_activities(ctx: WriteContext, m: dict[str, Any]) -> None:
    """The consumer of a batch's activities (``merchant.activities``)."""
    for activity in m["items"]:
        store.insert_activity(ctx.tx, activity)


def activity_committed(tx: Tx, m: dict[str, Any]) -> bool:
    """Every activity has a voucher under its ref, written in the same transaction."""
    return store.voucher_exists(tx, m["ref_id"])


def activities_committed(tx: Tx, m: dict[str, Any]) -> bool:
    """A batch's activities were written in one transaction: its first one's voucher tells."""
    return store.voucher_exists(tx, m["items"][0]["ref_id"])
