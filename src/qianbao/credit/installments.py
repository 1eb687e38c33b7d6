"""Installment plans (分期): creating a plan and its periods, a bill split into periods
(账单分期), early settlement (提前还款), and refunds taken off a plan's future periods.
The schedules themselves are pure (``credit.schedule``); the two user writes are commands
(``InstallBill``, ``SettlePlan``) handled in the user's unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qianbao.credit import schedule as sched
from qianbao.credit import store
from qianbao.credit.accounts import (
    PLAN,
    complete_plan_if_done,
    load_account,
    now_ms,
    receivable,
    today,
)
from qianbao.credit.config import CreditConfig, config_for
from qianbao.credit.errors import InstallmentNotAllowed, PlanNotFound, PurchaseNotFound
from qianbao.credit.pricing import priced_rates
from qianbao.credit.statements import load_statement, settle_statuses
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, post
from qianbao.payments import service as payments
from qianbao.platform import idempotency
from qianbao.platform.controls import INSTALLMENTS_OFF
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


def create_plan(
    tx: Tx,
    cfg: CreditConfig,
    user_id: str,
    kind: str,
    source_id: str,
    principal_fen: int,
    periods: int,
    rate: Decimal,
    fee_fen: int,
    subsidised: bool,
    first_bill: date,
    plan_id: str | None = None,
) -> str:
    plan_id = plan_id or new_id(bucket_of(user_id))
    store.insert_plan(
        tx,
        plan_id=plan_id,
        user_id=user_id,
        kind=kind,
        source_id=source_id,
        principal_fen=principal_fen,
        fee_fen=fee_fen,
        fee_rate=str(rate),
        periods=periods,
        subsidised=subsidised,
        now_ms=now_ms(),
    )
    schedule = sched.installment_schedule(principal_fen, periods, fee_fen, first_bill, cfg.bill_day)
    store.insert_plan_periods(
        tx,
        [
            {
                "plan_id": plan_id,
                "number": s.number,
                "user_id": user_id,
                "bill_date": s.bill_date.isoformat(),
                "principal_fen": s.principal_fen,
                "fee_fen": s.fee_fen,
            }
            for s in schedule
        ],
    )
    return plan_id


def load_plan(tx: Tx, user_id: str, plan_id: str) -> Row:
    row = store.plan(tx, user_id, plan_id)
    if row is None:
        raise PlanNotFound("no such installment plan")
    return row


def reduce_plan(tx: Tx, plan: Row, amount_fen: int) -> int:
    """Take up to ``amount_fen`` of principal off a plan's future periods, last period first;
    a shortened period keeps its fee in proportion. Returns the principal taken off."""
    pending = [
        sched.Period(
            r["number"], date.fromisoformat(r["bill_date"]), r["principal_fen"], r["fee_fen"]
        )
        for r in store.pending_periods(tx, plan["id"], last_first=True)
    ]
    cuts, taken = sched.shorten_periods(pending, amount_fen)
    for c in cuts:
        store.set_period(tx, plan["id"], c.number, c.principal_fen, c.fee_fen, c.status)
    store.shift_counters(tx, plan["user_id"], installment_fen=-taken)
    complete_plan_if_done(tx, plan["id"])
    return taken


@dataclass(frozen=True, slots=True)
class InstallBill:
    """账单分期 of one statement into ``periods``; ``plan_id`` names the plan it creates."""

    plan_id: str
    user_id: str
    statement_id: str
    periods: int
    request_id: str

    def fingerprint(self) -> dict[str, Any]:
        return {"statement_id": self.statement_id, "periods": self.periods}


def install_bill(
    p: Platform, user_id: str, statement_id: str, periods: int, request_id: str
) -> Row:
    """账单分期: after the statement and by its due date, split what is unpaid of its purchases
    into 3/6/9/12 periods, the first billed next month."""
    p.controls.refuse_if_on(INSTALLMENTS_OFF)
    command = InstallBill(
        plan_id=new_id(bucket_of(user_id)),
        user_id=user_id,
        statement_id=statement_id,
        periods=periods,
        request_id=request_id,
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def handle_install_bill(ctx: WriteContext, c: InstallBill) -> Row:
    tx = ctx.tx
    scope = f"credit.install:{c.user_id}"
    first = idempotency.claim(tx, scope, c.request_id, c.fingerprint(), c.plan_id)
    if first is not None:
        return load_plan(tx, c.user_id, first)
    cfg = config_for(ctx.platform)
    _split_bill(tx, cfg, c.user_id, c.statement_id, c.periods, c.plan_id)
    return load_plan(tx, c.user_id, c.plan_id)


@dataclass(frozen=True)
class SplitTerms:
    """What splitting a bill costs, as priced now: shown before the user confirms and used by
    the split itself (one computation for both)."""

    principal_fen: int
    periods: int
    fee_rate: Decimal
    fee_fen: int
    first_bill: date

    def schedule(self, bill_day: int) -> list[sched.Period]:
        return sched.installment_schedule(
            self.principal_fen, self.periods, self.fee_fen, self.first_bill, bill_day
        )


def _bill_terms(tx: Tx, cfg: CreditConfig, user_id: str, st: Row, periods: int) -> SplitTerms:
    on = today()
    if st["status"] != "OPEN" or on > date.fromisoformat(st["due_date"]):
        raise InstallmentNotAllowed(
            "a bill can be split only after it is issued and by its due date"
        )
    if store.plan_of_source_exists(tx, st["id"]):
        raise InstallmentNotAllowed("this bill is already split")
    amount = st["purchase_fen"] - st["installed_fen"] - st["purchase_paid_fen"]
    if amount <= 0:
        raise InstallmentNotAllowed("nothing of this bill's purchases is left to split")
    rates = priced_rates(tx, user_id, cfg.bill_installment_rates)
    fee = sched.installment_fee(amount, periods, rates, cfg.installment_min_fen)
    first_bill = sched.add_months(date.fromisoformat(st["bill_date"]), 1, on_day=cfg.bill_day)
    return SplitTerms(amount, periods, rates[periods], fee, first_bill)


def preview_bill(p: Platform, user_id: str, statement_id: str, periods: int) -> dict[str, Any]:
    """账单分期 priced before it is confirmed: the principal, the fee and each period, exactly as
    ``install_bill`` would book them now (nothing is written)."""
    cfg = config_for(p)
    with p.db_for(user_id).read() as tx:
        st = load_statement(tx, user_id, statement_id)
        terms = _bill_terms(tx, cfg, user_id, st, periods)
    return _preview(terms, cfg.bill_day, statement_id=statement_id)


def _preview(terms: SplitTerms, bill_day: int, **source: str) -> dict[str, Any]:
    return {
        **source,
        "principal_fen": terms.principal_fen,
        "periods": terms.periods,
        "fee_rate": str(terms.fee_rate),
        "fee_fen": terms.fee_fen,
        "schedule": [
            {
                "number": s.number,
                "bill_date": s.bill_date.isoformat(),
                "principal_fen": s.principal_fen,
                "fee_fen": s.fee_fen,
            }
            for s in terms.schedule(bill_day)
        ],
    }


def _split_bill(
    tx: Tx, cfg: CreditConfig, user_id: str, statement_id: str, periods: int, plan_id: str
) -> None:
    st = load_statement(tx, user_id, statement_id)
    terms = _bill_terms(tx, cfg, user_id, st, periods)
    amount = terms.principal_fen
    create_plan(
        tx,
        cfg,
        user_id,
        "BILL",
        statement_id,
        amount,
        periods,
        terms.fee_rate,
        terms.fee_fen,
        False,
        terms.first_bill,
        plan_id,
    )
    inst_due = st["inst_principal_fen"] + st["inst_fee_fen"]
    minimum = sched.minimum_due(
        st["purchase_fen"] - st["installed_fen"] - amount, inst_due, cfg.minimum_rate
    )
    store.add_installed(tx, statement_id, amount, minimum, now_ms())
    store.shift_counters(tx, user_id, billed_fen=-amount, installment_fen=amount)
    settle_statuses(tx, cfg, user_id, today())


def _purchase_terms(
    tx: Tx, cfg: CreditConfig, user_id: str, purchase_id: str, periods: int
) -> SplitTerms:
    """交易分期 after the payment: a purchase not yet on a bill, not refunded, at the purchase
    installment rates; its periods start on the bill it would have been on."""
    pur = store.purchase(tx, purchase_id)
    if pur is None or pur["user_id"] != user_id:
        raise PurchaseNotFound("no such Huabei purchase")
    if pur["plan_id"] is not None:
        raise InstallmentNotAllowed("this purchase is already in installments")
    if pur["statement_id"] is not None or pur["bill_date"] is None:
        raise InstallmentNotAllowed(
            "only a purchase not yet on a bill can be split (split its bill instead)"
        )
    if pur["status"] != "SUCCEEDED":
        raise InstallmentNotAllowed("a refunded purchase cannot be split")
    amount = int(pur["amount_fen"])
    if load_account(tx, user_id)["unbilled_fen"] < amount:
        raise InstallmentNotAllowed("this purchase was partly repaid early: it cannot be split")
    rates = priced_rates(tx, user_id, cfg.purchase_installment_rates)
    fee = sched.installment_fee(amount, periods, rates, cfg.installment_min_fen)
    first_bill = date.fromisoformat(pur["bill_date"])
    return SplitTerms(amount, periods, rates[periods], fee, first_bill)


def preview_purchase(p: Platform, user_id: str, purchase_id: str, periods: int) -> dict[str, Any]:
    """交易分期 of a purchase priced before it is confirmed (nothing is written)."""
    cfg = config_for(p)
    with p.db_for(user_id).read() as tx:
        terms = _purchase_terms(tx, cfg, user_id, purchase_id, periods)
    return _preview(terms, cfg.bill_day, purchase_id=purchase_id)


@dataclass(frozen=True, slots=True)
class InstallPurchase:
    """交易分期 of one purchase not yet billed; ``plan_id`` names the plan it creates."""

    plan_id: str
    user_id: str
    purchase_id: str
    periods: int
    request_id: str

    def fingerprint(self) -> dict[str, Any]:
        return {"purchase_id": self.purchase_id, "periods": self.periods}


def install_purchase(
    p: Platform, user_id: str, purchase_id: str, periods: int, request_id: str
) -> Row:
    """Split a purchase not yet on a bill into periods (the debt moves from unbilled to
    installments; the fee is billed with each period, as for a plan chosen at the cashier)."""
    command = InstallPurchase(new_id(bucket_of(user_id)), user_id, purchase_id, periods, request_id)
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def handle_install_purchase(ctx: WriteContext, c: InstallPurchase) -> Row:
    tx = ctx.tx
    scope = f"credit.install-purchase:{c.user_id}"
    first = idempotency.claim(tx, scope, c.request_id, c.fingerprint(), c.plan_id)
    if first is not None:
        return load_plan(tx, c.user_id, first)
    cfg = config_for(ctx.platform)
    terms = _purchase_terms(tx, cfg, c.user_id, c.purchase_id, c.periods)
    create_plan(
        tx,
        cfg,
        c.user_id,
        "PURCHASE",
        c.purchase_id,
        terms.principal_fen,
        c.periods,
        terms.fee_rate,
        terms.fee_fen,
        False,
        terms.first_bill,
        c.plan_id,
    )
    if not store.put_purchase_in_plan(tx, c.purchase_id, c.plan_id, now_ms()):
        raise InstallmentNotAllowed("this purchase is already on a bill or in installments")
    store.shift_counters(
        tx, c.user_id, unbilled_fen=-terms.principal_fen, installment_fen=terms.principal_fen
    )
    return load_plan(tx, c.user_id, c.plan_id)


@dataclass(frozen=True, slots=True)
class SettlePlan:
    """提前还款 of a plan's future periods from the wallet."""

    user_id: str
    plan_id: str
    request_id: str

    def fingerprint(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id}


def settle_plan(p: Platform, user_id: str, plan_id: str, request_id: str) -> Row:
    """Early settlement (提前还款) of a plan's future periods from the wallet; their fees are
    waived or charged per configuration. Periods already billed stay on their bills."""
    result: Row = p.commands.submit(p.unit_of(user_id), SettlePlan(user_id, plan_id, request_id))
    return result


def handle_settle_plan(ctx: WriteContext, c: SettlePlan) -> Row:
    tx, user_id, plan_id = ctx.tx, c.user_id, c.plan_id
    first = idempotency.claim(
        tx, f"credit.settle:{user_id}", c.request_id, c.fingerprint(), plan_id
    )
    if first is not None:
        return load_plan(tx, user_id, plan_id)
    plan = load_plan(tx, user_id, plan_id)
    if plan["status"] != "ACTIVE":
        raise InstallmentNotAllowed(f"plan is {plan['status'].lower()}")
    pending = store.pending_periods(tx, plan_id)
    principal = sum(r["principal_fen"] for r in pending)
    fee = (
        0
        if config_for(ctx.platform).early_settlement_fee_waived or plan["subsidised"]
        else sum(r["fee_fen"] for r in pending)
    )
    post(
        ctx,
        "credit.settle",
        plan_id,
        [
            debit(payments.user_account(user_id), principal + fee),
            credit(receivable(user_id), principal),
            credit(unit_account("installment_fee_income", ctx.unit), fee),
        ],
    )
    store.settle_pending_periods(tx, plan_id)
    store.shift_counters(tx, user_id, installment_fen=-principal)
    PLAN.move(tx, plan_id, "ACTIVE", "SETTLED")
    return load_plan(tx, user_id, plan_id)


def plan_schedule(p: Platform, user_id: str, plan_id: str) -> dict[str, Any]:
    """A plan with its periods; each period with its due date (the due date of the bill it is
    billed on) and what became of it: ``paid`` once settled or once its bill is paid."""
    with p.db_for(user_id).read() as tx:
        plan = load_plan(tx, user_id, plan_id)
        periods = store.plan_periods(tx, plan_id)
        due_day = int(load_account(tx, user_id)["due_day"])
        bills = {st["id"]: st["status"] for st in store.statements(tx, user_id)}
    return {**dict(plan), "schedule": [_period(dict(r), due_day, bills) for r in periods]}


def _period(row: dict[str, Any], due_day: int, bills: dict[str, str]) -> dict[str, Any]:
    bill_status = bills.get(row["statement_id"] or "", "")
    due = sched.due_date_for(date.fromisoformat(row["bill_date"]), due_day)
    paid = row["status"] == "SETTLED" or bill_status == "PAID"
    return {**row, "due_date": due.isoformat(), "bill_status": bill_status, "paid": paid}
