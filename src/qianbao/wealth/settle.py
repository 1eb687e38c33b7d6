"""The day's cash with the fund company (资金清算), through the bank channel.

Each unit's confirmations of a day leave a net on ``fund_clearing:YEB@u<n>``: subscriptions the
platform owes the fund, less redemptions the fund owes the platform. At the end of the day the
net is settled through SIMBANK between the platform's reserve and the fund's bank account: a
payout when the platform owes, a charge (the fund's account debited) when the fund owes. Only a
transfer the bank confirmed is booked (clearing ↔ bank reserve), so the bank's reconciliation
and the fund's agree; a request the bank did not confirm is sent again, with the same request
id, on the next run (the bank is idempotent on it).
"""

from __future__ import annotations

import logging
from datetime import date
from functools import partial
from typing import Any

from qianbao.channels.base import SUCCEEDED, UNKNOWN, ChannelTimeout
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, post
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.wealth import state
from qianbao.wealth.dayend import CONFIRM
from qianbao.wealth.store import orders as store

log = logging.getLogger("qianbao.wealth")
SETTLE = "SETTLE"
CHANNEL = "SIMBANK"
FUND_BANK_ACCOUNT = "FUND-YEB-0001"  # the fund company's cash account at the bank
FUND_OPENING_CASH_FEN = 10**14  # the simulated fund's cash at the bank (1 trillion CNY)


def settle(p: Platform, day: date) -> list[dict[str, Any]]:
    """Settle each unit's net of ``day`` once; returns what each unit settled (or why not)."""
    out = []
    for unit, db in p.owned_dbs():
        with db.read() as tx:
            done = store.step_result(tx, day.isoformat(), SETTLE)
            confirmed = store.step_result(tx, day.isoformat(), CONFIRM)
        if done is not None or confirmed is None:
            out.append(done or {"unit": unit, "net_cash_fen": 0, "status": "NOTHING"})
            continue
        net = int(confirmed["net_cash_fen"])
        ref = f"YEB{day:%Y%m%d}U{unit}"
        if net and _transfer(p, ref, net) != SUCCEEDED:
            out.append({"unit": unit, "net_cash_fen": net, "status": "NOT_CONFIRMED", "ref": ref})
            continue
        out.append(p.writers[unit].submit(partial(_book, day=day, net=net, ref=ref)))
    return out


def _transfer(p: Platform, ref: str, net_fen: int) -> str:
    bank = p.channels[CHANNEL]
    bank.open_card(FUND_BANK_ACCOUNT, "余额宝基金 fund company", FUND_OPENING_CASH_FEN)
    try:
        if net_fen > 0:
            return str(bank.payout(ref, FUND_BANK_ACCOUNT, net_fen))
        return str(bank.charge(ref, FUND_BANK_ACCOUNT, -net_fen))
    except ChannelTimeout:
        outcome = str(bank.query(ref))
        if outcome == UNKNOWN:
            log.warning("fund settlement %s not answered by the bank; sent again next run", ref)
        return outcome


def _book(ctx: WriteContext, day: date, net: int, ref: str) -> dict[str, Any]:
    key = day.isoformat()
    done = store.step_result(ctx.tx, key, SETTLE)
    if done is not None:
        return done
    reserve = unit_account("bank_reserve", ctx.unit, CHANNEL)
    if net > 0:  # the platform paid the fund
        post(ctx, "YEB_SETTLE", ref, [debit(state.clearing(ctx.unit), net), credit(reserve, net)])
    elif net < 0:  # the fund paid the platform
        post(ctx, "YEB_SETTLE", ref, [debit(reserve, -net), credit(state.clearing(ctx.unit), -net)])
    result = {"unit": ctx.unit, "net_cash_fen": net, "status": "SETTLED", "ref": ref}
    store.save_step(ctx.tx, key, SETTLE, result, clock.now_ms())
    return result
