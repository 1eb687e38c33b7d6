"""Repayments (还款): what is owed now, the payoff quote, and repaying from the wallet or a
bound card. Which parts of which bills a repayment pays is ``model.allocation.allocate``; this
module reads the bills, calls it and persists the allocation. ``repay`` submits the ``Repay``
command (``handle_repay``); day-end autodebit calls ``repay_in_ctx`` inside its own job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from qianbao.credit import schedule as sched
from qianbao.credit import store
from qianbao.credit.accounts import load_account, now_ms, receivable, today
from qianbao.credit.config import CreditConfig, config_for
from qianbao.credit.errors import CardPaymentFailed, NothingOwed, RepaymentExceedsOwed
from qianbao.credit.model.allocation import Allocation, BillOwed
from qianbao.credit.model.allocation import allocate as allocate_fen
from qianbao.credit.model.statement import interest_base_fen, owed_parts, statement_owed
from qianbao.credit.pricing import statement_rate
from qianbao.credit.statements import accrue_interest, settle_statuses
from qianbao.ledger.service import credit, debit, post
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform import idempotency
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


def total_owed(tx: Tx, user_id: str) -> int:
    """Everything repayable now: unpaid bills plus unbilled purchases (not future periods)."""
    a = load_account(tx, user_id)
    bills = sum(statement_owed(st) for st in store.unpaid_statements(tx, user_id))
    return bills + int(a["unbilled_fen"])


def payoff_fen(p: Platform, user_id: str) -> dict[str, int]:
    """What clears each unpaid bill if paid today, including today's interest not yet booked."""
    cfg = config_for(p)
    on = today()
    out: dict[str, int] = {}
    with p.db_for(user_id).read() as tx:
        load_account(tx, user_id)
        for st in store.unpaid_statements(tx, user_id):
            days = max(0, (on - date.fromisoformat(st["interest_through"])).days)
            extra = (
                sched.daily_interest(interest_base_fen(st), statement_rate(cfg, st)) * days
                if st["status"] != "OPEN"
                else 0
            )
            out[st["id"]] = statement_owed(st) + extra
    return out


def allocate(
    ctx: WriteContext,
    cfg: CreditConfig,
    user_id: str,
    amount_fen: int,
    ref: str,
    statements_only: bool = False,
) -> dict[str, Any]:
    """Apply ``amount_fen``: interest and fees first, then installment amounts, then principal,
    oldest bill first; then unbilled purchases (early repayment). Updates the counters; the
    caller books the voucher. Returns what each fen paid."""
    tx = ctx.tx
    bills = store.unpaid_statements(tx, user_id)
    unbilled = None if statements_only else int(load_account(tx, user_id)["unbilled_fen"])
    result = allocate_fen(
        amount_fen, [BillOwed(st["id"], owed_parts(st)) for st in bills], unbilled
    )
    _persist_allocation(tx, cfg, user_id, result)
    return {
        "total_fen": result.total_fen,
        "lines": [line.to_dict() for line in result.lines],
        "ref": ref,
    }


def _persist_allocation(tx: Tx, cfg: CreditConfig, user_id: str, result: Allocation) -> None:
    for statement_id, paid_fen in result.paid_by_statement().items():
        store.add_paid(tx, statement_id, paid_fen, now_ms())
    store.shift_counters(
        tx,
        user_id,
        charges_fen=-result.charges_fen,
        billed_fen=-result.principal_fen,
        unbilled_fen=-result.early_fen,
        prepaid_fen=result.early_fen,
    )
    settle_statuses(tx, cfg, user_id, today())


def repay_in_ctx(
    ctx: WriteContext, user_id: str, amount_fen: int, source: str, repayment_id: str | None = None
) -> Row:
    """Repay from the user's wallet balance inside a command (a card or Yu'e Bao source has
    already moved its money into the balance)."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    accrue_interest(ctx, user_id, today())  # the day of repayment counts as a day of interest
    owed = total_owed(tx, user_id)
    if owed == 0:
        raise NothingOwed("nothing is owed")
    if amount_fen > owed:
        raise RepaymentExceedsOwed(f"at most {owed} fen is owed")
    repayment_id = repayment_id or new_id(bucket_of(user_id))
    allocation = allocate(ctx, cfg, user_id, amount_fen, repayment_id)
    assert allocation["total_fen"] == amount_fen
    post(
        ctx,
        "credit.repay",
        repayment_id,
        [
            debit(payments.user_account(user_id), amount_fen),
            credit(receivable(user_id), amount_fen),
        ],
    )
    store.insert_repayment(
        tx,
        repayment_id=repayment_id,
        user_id=user_id,
        amount_fen=amount_fen,
        source=source,
        allocation_json=json.dumps(allocation["lines"]),
        now_ms=now_ms(),
    )
    row = store.repayment(tx, repayment_id)
    assert row is not None
    return row


@dataclass(frozen=True, slots=True)
class Repay:
    """还款 once authorised; a card repayment's money is already in the wallet (``source``
    CARD: the use case topped up first), so the unit only moves balance to the receivable."""

    repayment_id: str
    user_id: str
    amount_fen: int
    request_id: str
    source: str  # BALANCE | CARD
    card_id: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        return {"amount_fen": self.amount_fen, "card_id": self.card_id}


def repay(
    p: Platform,
    user_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    card_id: str | None = None,
) -> Row:
    """还款: any amount up to what is owed, at any time, from the wallet or a bound card."""
    payments.check_amount(p, amount_fen)
    members.authorize_payment(p, user_id, amount_fen, pay_password)
    source = "BALANCE"
    if card_id is not None:
        order = payments.topup(
            p, user_id, card_id, amount_fen, idempotency.derived_key("credit-repay", request_id)
        )
        if order["status"] != "SUCCEEDED":
            raise CardPaymentFailed(f"card payment {order['status'].lower()}")
        source = "CARD"
    command = Repay(
        repayment_id=new_id(bucket_of(user_id)),
        user_id=user_id,
        amount_fen=amount_fen,
        request_id=request_id,
        source=source,
        card_id=card_id,
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def handle_repay(ctx: WriteContext, c: Repay) -> Row:
    scope = f"credit.repay:{c.user_id}"
    first = idempotency.claim(ctx.tx, scope, c.request_id, c.fingerprint(), c.repayment_id)
    if first is not None:
        row = store.repayment(ctx.tx, first)
        assert row is not None
        return row
    return repay_in_ctx(ctx, c.user_id, c.amount_fen, c.source, c.repayment_id)
