"""The funding-source contract the cashier (trades) relies on: ``charge_huabei`` inside the
caller's command, ``confirm_huabei`` for secured trades, ``restore_huabei`` for refunds."""

from __future__ import annotations

from datetime import date

import pytest

from qianbao.credit import service as credit
from qianbao.credit.errors import LineExceeded
from qianbao.ledger.chart import account_id, unit_account
from qianbao.ledger.service import credit as cr
from qianbao.ledger.service import debit, open_account, post
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, huabei_user, live


def _escrow(ref: str) -> str:
    return account_id("escrow", ref)


def test_secured_trade_is_billed_in_the_month_it_is_confirmed(platform: Platform) -> None:
    p = platform
    at(date(2026, 3, 1))
    user = huabei_user(p, line_fen=100_000)
    ref = "trade-0001" + user[-2:]

    def pay(ctx: WriteContext) -> str:  # what a cashier does: one command, one voucher
        open_account(ctx.tx, _escrow(ref), "platform")
        charge = credit.charge_huabei(ctx, user, 60_000, ref, deferred=True)
        post(ctx, "trade.pay", ref, [*charge.legs, cr(_escrow(ref), 60_000)])
        return charge.purchase_id

    at(date(2026, 3, 20))
    p.writer_for(user).submit(pay)
    assert credit.summary(p, user)["available_fen"] == 40_000

    def too_much(ctx: WriteContext) -> None:
        credit.charge_huabei(ctx, user, 40_001, "trade-0002" + user[-2:])

    with pytest.raises(LineExceeded):
        p.writer_for(user).submit(too_much)
    live(p, date(2026, 3, 20), date(2026, 4, 5))
    assert credit.list_statements(p, user) == []  # not confirmed: not on the April bill

    def confirm(ctx: WriteContext) -> None:  # buyer confirms receipt: escrow pays the seller
        credit.confirm_huabei(ctx, ref)
        post(
            ctx,
            "trade.release",
            ref,
            [debit(_escrow(ref), 60_000), cr(unit_account("fee_income", ctx.unit), 60_000)],
        )

    at(date(2026, 4, 6))
    p.writer_for(user).submit(confirm)
    live(p, date(2026, 4, 6), date(2026, 5, 1))
    bills = credit.list_statements(p, user)
    assert [(b["bill_date"], b["total_fen"]) for b in bills] == [("2026-05-01", 60_000)]

    def refund(ctx: WriteContext) -> None:
        back = credit.restore_huabei(ctx, ref, 10_000, "refund-0001" + user[-2:])
        post(
            ctx,
            "trade.refund",
            ref,
            [debit(unit_account("fee_income", ctx.unit), 10_000), *back.legs],
        )

    at(date(2026, 5, 2))
    p.writer_for(user).submit(refund)
    assert credit.list_statements(p, user)[0]["owed_fen"] == 50_000
    counters_match_ledger(p, user)
    assert_ledger_clean(p)
