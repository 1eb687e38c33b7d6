"""Reconciliation with the fund company (基金对账), per unit and day, like the bank's.

* **Line by line**: the fund's confirmations of the day against our orders confirmed that day,
  by order id: ``FUND_ONLY`` (the fund confirmed an order we do not have as confirmed),
  ``PLATFORM_ONLY``, ``AMOUNT_MISMATCH``, ``KIND_MISMATCH``, ``STATUS_MISMATCH``.
* **Shares**: the fund's closing shares of the unit's omnibus account against our
  ``fund_custody`` after the day's income run, and the fund's income against what we booked.
* **Money**: the fund's net cash of the day (confirmed subscriptions − redemptions) against the
  net our confirmations booked on ``fund_clearing``, and against what the bank transferred
  (``settle.py``).
* **Custody identity** (now): custody = Σ holders' shares + Σ normal redemptions in flight +
  advanced redemptions not yet confirmed + the retained income remainders.

A unit's day is BALANCED when all of it agrees; the report is stored per unit and day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from qianbao.ledger.queries import balances_of_subject
from qianbao.ledger.service import balance_in
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.wealth import state
from qianbao.wealth.dayend import CONFIRM, INCOME
from qianbao.wealth.fundco import Confirmation, FundFile
from qianbao.wealth.settle import SETTLE
from qianbao.wealth.store import orders as store

BALANCED, DIFFERENCES = "BALANCED", "DIFFERENCES"
RECONCILE = "RECONCILE"


def reconcile(p: Platform, day: date) -> list[dict[str, Any]]:
    """Every unit's report for ``day`` (after its income run); each is stored."""
    fund_file = state.of(p).fund.daily_file(day)
    return [_unit_report(p, unit, fund_file) for unit in p.owned_units]


def _unit_report(p: Platform, unit: int, fund_file: FundFile) -> dict[str, Any]:
    key = fund_file.day.isoformat()
    account_no = state.fund_account_no(unit)
    with p.units[unit].read() as tx:
        ours = {r["id"]: dict(r) for r in store.orders_confirmed_on(tx, key)}
        confirmed = store.step_result(tx, key, CONFIRM) or {"net_cash_fen": 0}
        settled = store.step_result(tx, key, SETTLE) or {"net_cash_fen": 0}
        income = store.step_result(tx, key, INCOME)
        identity = _custody_identity(tx, unit)
    theirs = [c for c in fund_file.confirmations if c.account_no == account_no]
    differences = _line_differences(theirs, ours)
    fund_day = next((a for a in fund_file.accounts if a.account_no == account_no), None)
    checks = {
        "fund_closing_shares_fen": fund_day.closing_fen if fund_day else None,
        "custody_after_income_fen": income["custody_after_fen"] if income else None,
        "fund_income_fen": fund_day.income_fen if fund_day else 0,
        "booked_income_fen": income["pool_fen"] if income else None,
        "fund_net_cash_fen": fund_file.net_cash_fen(account_no),
        "booked_net_cash_fen": int(confirmed["net_cash_fen"]),
        "settled_at_bank_fen": int(settled["net_cash_fen"]),
        **identity,
    }
    agree = (
        checks["fund_closing_shares_fen"] == checks["custody_after_income_fen"]
        and checks["fund_income_fen"] == checks["booked_income_fen"]
        and checks["fund_net_cash_fen"] == checks["booked_net_cash_fen"]
        and checks["booked_net_cash_fen"] == checks["settled_at_bank_fen"]
        and identity["custody_fen"] == identity["custody_explained_fen"]
    )
    report = {
        "unit": unit,
        "day": key,
        "status": BALANCED if agree and not differences else DIFFERENCES,
        "fund_lines": len(theirs),
        "matched": len(theirs) - sum(1 for d in differences if d["problem"] != "PLATFORM_ONLY"),
        "differences": differences,
        **checks,
    }
    p.writers[unit].submit(
        lambda ctx: store.save_step(ctx.tx, key, RECONCILE, report, clock.now_ms())
    )
    return report


def _line_differences(
    theirs: list[Confirmation], ours: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    seen = set()
    for line in theirs:
        seen.add(line.order_id)
        mine = ours.get(line.order_id)
        problem = None
        if mine is None:
            problem = "FUND_ONLY"
        elif mine["kind"] != line.kind:
            problem = "KIND_MISMATCH"
        elif int(mine["amount_fen"]) != line.amount_fen:
            problem = "AMOUNT_MISMATCH"
        elif mine["status"] != line.status:
            problem = "STATUS_MISMATCH"
        if problem:
            out.append({"order_id": line.order_id, "problem": problem, "fund_status": line.status})
    for order_id in ours:
        if order_id not in seen:
            out.append({"order_id": order_id, "problem": "PLATFORM_ONLY", "fund_status": "ABSENT"})
    return out


def _custody_identity(tx: Any, unit: int) -> dict[str, int]:
    shares = sum(balances_of_subject(tx, "fund_shares").values())
    redeeming = sum(balances_of_subject(tx, "fund_redeeming").values())
    advanced = store.advanced_in_flight_fen(tx)
    retained = balance_in(tx, state.retained(unit))
    return {
        "custody_fen": balance_in(tx, state.custody(unit)),
        "custody_explained_fen": shares + redeeming + advanced + retained,
        "holders_shares_fen": shares,
        "redeeming_fen": redeeming,
        "advanced_in_flight_fen": advanced,
        "retained_fen": retained,
    }


def stored_report(p: Platform, unit: int, day: date) -> dict[str, Any] | None:
    with p.units[unit].read() as tx:
        return store.step_result(tx, day.isoformat(), RECONCILE)
