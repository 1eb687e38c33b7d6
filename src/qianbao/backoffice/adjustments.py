"""Manual balance adjustments (调账): a user's wallet credited (a goodwill credit, money owed
found by an investigation) or debited (an erroneous credit taken back), against the unit's
``adjustment_expense``. Only ever run by an approved maker-checker request (kind
``adjustment``); the request id makes a repeat change nothing, and a debit cannot overdraw the
wallet (the ledger's guarded debit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.backoffice.errors import AdjustmentInvalid
from qianbao.ledger.chart import unit_account, user_account
from qianbao.ledger.service import credit, debit, open_account, post
from qianbao.members import service as members
from qianbao.platform import idempotency
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

MAX_ADJUSTMENT_FEN = 5_000_000  # 50,000 CNY: more is not a manual adjustment


def check(amount_fen: int, reason: str) -> None:
    if amount_fen == 0 or abs(amount_fen) > MAX_ADJUSTMENT_FEN:
        raise AdjustmentInvalid(f"an adjustment is 1–{MAX_ADJUSTMENT_FEN} fen, up or down")
    if not reason.strip():
        raise AdjustmentInvalid("an adjustment needs its reason")


@dataclass(frozen=True, slots=True)
class Adjust:
    """An approved adjustment in the user's unit (a command as data, so it can be sent to the
    unit's process; its own ``__call__`` is its handler). The request id makes a repeat a no-op.
    """

    adjustment_id: str
    operator_id: str
    user_id: str
    amount_fen: int
    reason: str
    request_id: str

    def __call__(self, ctx: WriteContext) -> dict[str, Any]:
        request = {"amount_fen": self.amount_fen, "reason": self.reason}
        scope = f"adjustment:{self.user_id}"
        first = idempotency.claim(ctx.tx, scope, self.request_id, request, self.adjustment_id)
        if first is not None:
            return {"adjustment_id": first, "user_id": self.user_id, "amount_fen": self.amount_fen}
        expense = unit_account("adjustment_expense", ctx.unit)
        open_account(ctx.tx, expense, f"u{ctx.unit}")
        legs = [
            debit(expense, self.amount_fen),
            credit(user_account(self.user_id), self.amount_fen),
        ]
        memo = f"{self.operator_id}: {self.reason}"[:100]
        post(ctx, "ops.adjustment", self.adjustment_id, legs, memo=memo)
        return {
            "adjustment_id": self.adjustment_id,
            "user_id": self.user_id,
            "amount_fen": self.amount_fen,
        }


def adjust(
    p: Platform, operator_id: str, user_id: str, amount_fen: int, reason: str, request_id: str
) -> dict[str, Any]:
    """Positive ``amount_fen`` credits the user, negative debits them."""
    check(amount_fen, reason)
    members.get_user(p, user_id)
    adjustment_id = new_id(bucket_of(user_id))
    command = Adjust(adjustment_id, operator_id, user_id, amount_fen, reason, request_id)
    result: dict[str, Any] = p.writer_for(user_id).submit(command)
    return result
