"""The legs on the merchant's side of a movement that are the same for every contract: the
platform's fee income and a secured trade's escrow. How the merchant's net amount is booked
(instant, or T+1 through the day's settlement batch) is a ``ports.ProceedsPolicy`` chosen by
the merchant's settlement cycle (``payments.settlement`` implements both, wired in
``bootstrap.py``): the one answer to "how is a merchant paid" for every kind of payment.
"""

from __future__ import annotations

from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import Leg, credit, debit
from qianbao.platform.writer import WriteContext


def fee_leg(ctx: WriteContext, fee_fen: int, *, back: bool = False) -> Leg:
    account = unit_account("fee_income", ctx.unit)
    return debit(account, fee_fen) if back else credit(account, fee_fen)


def escrow_legs(ctx: WriteContext, amount_fen: int, *, back: bool = False) -> list[Leg]:
    """A secured trade's money waits in the unit's escrow (opened by bootstrap) until it is
    released or refunded."""
    account = unit_account("escrow", ctx.unit)
    return [debit(account, amount_fen) if back else credit(account, amount_fen)]
