"""Manual balance adjustments (调账): a user's wallet credited (a goodwill credit, money owed
found by an investigation) or debited (an erroneous credit taken back), against the unit's
``adjustment_expense``. Only ever run by an approved maker-checker request (kind
``adjustment``); the request id makes a repeat change nothing, and a debit cannot overdraw the
wallet (the ledger's guarded debit)."""

from __future__ import annotations

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


def adjust(
    p: Platform, operator_id: str, user_id: str, amount_fen: int, reason: str, request_id: str
) -> dict[str, Any]:
    """Positive ``amount_fen`` credits the user, negative debits them."""
    check(amount_fen, reason)
    members.get_user(p, user_id)
    adjustment_id = new_id(bucket_of(user_id))
    request = {"amount_fen": amount_fen, "reason": reason}

    def command(ctx: WriteContext) -> dict[str, Any]:
        scope = f"adjustment:{user_id}"
        first = idempotency.claim(ctx.tx, scope, request_id, request, adjustment_id)
        if first is not None:
            return {"adjustment_id": first, "user_id": user_id, "amount_fen": amount_fen}
        expense = unit_account("adjustment_expense", ctx.unit)
        open_account(ctx.tx, expense, f"u{ctx.unit}")
        wallet = user_account(user_id)
        legs = [debit(expense, amount_fen), credit(wallet, amount_fen)]
        post(ctx, "ops.adjustment", adjustment_id, legs, memo=f"{operator_id}: {reason}"[:100])
        return {"adjustment_id": adjustment_id, "user_id": user_id, "amount_fen": amount_fen}

    result: dict[str, Any] = p.writer_for(user_id).submit(command)
    return result
