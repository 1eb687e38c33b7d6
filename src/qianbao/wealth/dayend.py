"""Yu'e Bao's day-end steps: the files exchanged with the fund company and the income run.

``send_orders``: the application file of the orders that trade by ``day``. ``confirm`` (a
trading day): the fund confirms the orders of the previous trading day (T+1); each unit applies
its lines — subscriptions become shares (earning from today), normal redemptions reach the
wallet, advanced ones settle the platform's advance. ``income``: the fund publishes the day's
万份收益 and books its income; each unit's income run (``income_run``). See ``jobs.py``.

Every step is recorded per unit and day (``yuebao_days``) and is idempotent: a restart repeats
only what did not finish. The income run must go day after day (``DayOutOfOrder``).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

from qianbao.ledger.chart import user_account
from qianbao.ledger.queries import balances_of_subject
from qianbao.ledger.service import Leg, balance_in, credit, debit, post, post_bulk
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.wealth import state
from qianbao.wealth.errors import DayOutOfOrder
from qianbao.wealth.fundco import CONFIRMED as FUND_CONFIRMED
from qianbao.wealth.fundco import Confirmation, OrderLine
from qianbao.wealth.model import split_income
from qianbao.wealth.orders import ACCEPTED, ADVANCED, CONFIRMED, FAILED, NORMAL, ORDER, SENT
from qianbao.wealth.orders import SUBSCRIBE as SUB
from qianbao.wealth.service import INCOME_KIND
from qianbao.wealth.store import orders as store

SEND, CONFIRM, INCOME = "SEND", "CONFIRM", "INCOME"
SHARE_PREFIX = "fund_shares:"
INCOME_TIMEOUT_S = 600  # one unit's run for a million holders takes seconds


# --- the application file ----------------------------------------------------------------------
def send_orders(p: Platform, day: date) -> int:
    """Send every accepted order that trades by ``day`` to the fund, then mark them SENT."""
    fund = state.of(p).fund
    sent = 0
    for unit, db in p.owned_dbs():  # each unit process sends its own units' orders
        with db.read() as tx:
            rows = store.accepted_orders(tx, day.isoformat())
        lines = [
            OrderLine(
                r["id"],
                state.fund_account_no(unit),
                r["kind"],
                int(r["amount_fen"]),
                r["trade_date"],
                r["confirm_date"],
            )
            for r in rows
        ]
        fund.receive(lines)  # idempotent on the order id: a re-send after a crash is harmless
        ids = [r["id"] for r in rows]
        p.writers[unit].submit(partial(_mark_sent, ids=ids, day=day))
        sent += len(ids)
    return sent


def _mark_sent(ctx: WriteContext, ids: list[str], day: date) -> None:
    for order_id in ids:
        ORDER.move(ctx.tx, order_id, ACCEPTED, SENT)
    store.save_step(ctx.tx, day.isoformat(), SEND, {"orders": len(ids)}, clock.now_ms())


# --- the confirmation file ------------------------------------------------------------------------
def confirm(p: Platform, day: date) -> dict[str, Any]:
    lines = state.of(p).fund.confirm(day)
    out: dict[str, Any] = {"day": day.isoformat(), "confirmed": 0}
    for unit in p.owned_units:
        mine = [c for c in lines if c.account_no == state.fund_account_no(unit)]
        result = p.writers[unit].submit(partial(_apply, lines=mine, day=day))
        out["confirmed"] += int(result["confirmed"])
    return out


def _apply(ctx: WriteContext, lines: list[Confirmation], day: date) -> dict[str, Any]:
    done = store.step_result(ctx.tx, day.isoformat(), CONFIRM)
    if done is not None:
        return done
    result = {"confirmed": 0, "failed": 0, "net_cash_fen": 0}
    for line in lines:
        order = store.order(ctx.tx, line.order_id)
        if order is None or order["status"] != SENT:
            continue  # reconciliation reports a line we do not know
        ok = line.status == FUND_CONFIRMED
        legs = _confirmation_legs(ctx.unit, dict(order), ok)
        if legs:
            post(ctx, "YEB_CONFIRM", order["id"], legs)
        ORDER.move(ctx.tx, order["id"], SENT, CONFIRMED if ok else FAILED)
        if ok and order["kind"] == SUB:
            # the shares count from the confirmation day, even when a late job applies it
            earning_from = start_of_day_ms(day)
            store.set_shares_moved(ctx.tx, order["id"], int(order["amount_fen"]), earning_from)
        if ok:
            sign = 1 if order["kind"] == SUB else -1
            result["net_cash_fen"] += sign * int(order["amount_fen"])
        result["confirmed" if ok else "failed"] += 1
    store.save_step(ctx.tx, day.isoformat(), CONFIRM, result, clock.now_ms())
    return result


def _confirmation_legs(unit: int, order: dict[str, Any], ok: bool) -> list[Leg]:
    """What a confirmed (or failed) order books: the holder's side and the fund's side."""
    user, amount = str(order["user_id"]), int(order["amount_fen"])
    fund_side = [debit(state.custody(unit), amount), credit(state.clearing(unit), amount)]
    if order["kind"] == SUB:
        if not ok:  # the fund refused: the money goes back to the wallet
            return [debit(state.pending(user), amount), credit(user_account(user), amount)]
        return [debit(state.pending(user), amount), credit(state.shares(user), amount), *fund_side]
    fund_out = [credit(state.custody(unit), amount), debit(state.clearing(unit), amount)]
    if order["mode"] == NORMAL:
        if not ok:  # the shares go back to the holder
            return [debit(state.redeeming(user), amount), credit(state.shares(user), amount)]
        return [debit(state.redeeming(user), amount), credit(user_account(user), amount), *fund_out]
    assert order["mode"] in ADVANCED
    return fund_out if ok else []  # a failed advanced redemption stays a reconciliation difference


# --- the daily income ----------------------------------------------------------------------------
def income(p: Platform, day: date) -> list[dict[str, Any]]:
    fund = state.of(p).fund
    per_10k_e4 = fund.ensure_rate(day)
    pools = {a.account_no: a for a in fund.accrue(day)}
    running = []
    for unit in p.owned_units:  # the units run side by side, each in its own writer
        pool = pools.get(state.fund_account_no(unit))
        pool_fen = pool.income_fen if pool else 0
        run = partial(income_run, day=day, per_10k_e4=per_10k_e4, pool_fen=pool_fen)
        running.append(p.writers[unit].submit_async(run))
    return [f.result(timeout=INCOME_TIMEOUT_S) for f in running]


def income_run(ctx: WriteContext, day: date, per_10k_e4: int, pool_fen: int) -> dict[str, Any]:
    """One unit's income for ``day`` in one command: every holder's shares at the end of the
    day × 万份收益 ÷ 10,000, rounded down to the fen; the fund's income on the unit's omnibus
    account (``pool_fen``) is booked to custody, and what it pays beyond the holders' rounded
    incomes stays on the unit's ``fund_retained`` account (ADR 0701)."""
    key = day.isoformat()
    done = store.step_result(ctx.tx, key, INCOME)
    if done is not None:
        return done
    last = store.last_step_day(ctx.tx, INCOME)
    if last is not None and last > key:
        raise DayOutOfOrder(f"income already ran for {last}, after {key}")
    holdings = _shares_at_end_of(ctx, day)
    incomes, retained = split_income(holdings, per_10k_e4, pool_fen)  # refuses more than pool
    paid = pool_fen - retained
    if pool_fen:
        legs: list[Leg] = [credit(account, fen) for account, fen in incomes.items()]
        legs += [
            debit(state.custody(ctx.unit), pool_fen),
            credit(state.retained(ctx.unit), retained),
        ]
        post_bulk(ctx, INCOME_KIND, key, [leg for leg in legs if leg[1]], memo="Yu'e Bao income")
    result = {
        "unit": ctx.unit,
        "day": key,
        "per_10k_e4": per_10k_e4,
        "holders": len(holdings),
        "shares_fen": sum(holdings.values()),
        "paid_fen": paid,
        "pool_fen": pool_fen,
        "retained_fen": pool_fen - paid,
        "custody_after_fen": balance_in(ctx.tx, state.custody(ctx.unit)),
    }
    store.save_step(ctx.tx, key, INCOME, result, clock.now_ms())
    return result


def _shares_at_end_of(ctx: WriteContext, day: date) -> dict[str, int]:
    """Each holder's confirmed shares at the end of ``day``: today's balance less what orders
    changed after the day ended (a payment at 00:05 does not take yesterday's income)."""
    balances = balances_of_subject(ctx.tx, "fund_shares")
    cut_ms = start_of_day_ms(day + timedelta(days=1))
    for user_id, delta in store.shares_changed_since(ctx.tx, cut_ms).items():
        account = SHARE_PREFIX + user_id
        balances[account] = balances.get(account, 0) - delta
    return {a: s for a, s in balances.items() if s > 0}
