"""Huabei as a funding source of the one money-movement engine: ``HuabeiFunding`` charges the
line inside the payer's command and gives it back on a refund (``charge_huabei``,
``restore_huabei``), and ``HuabeiPurchasePurpose`` records a direct Huabei payment as its
credit purchase. ``pay_merchant_with_huabei`` and ``refund_huabei_purchase`` build the engine's
``Pay`` and ``Refund`` commands (docs/decisions/0009-one-money-movement-engine.md). They call
the topic modules for plans, bills, allocation and pricing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from qianbao.credit import schedule as sched
from qianbao.credit.accounts import (
    CATEGORIES,
    PURCHASE,
    available_fen,
    load_account,
    receivable,
)
from qianbao.credit.accounts import now_ms as _now
from qianbao.credit.accounts import today as _today
from qianbao.credit.config import CreditConfig, config_for
from qianbao.credit.errors import (
    AccountNotFound,
    CategoryInvalid,
    CategoryNotTheMerchants,
    CreditFrozen,
    CreditOverdue,
    InstallmentNotAllowed,
    LineExceeded,
    PurchaseNotFound,
)
from qianbao.credit.installments import create_plan as _create_plan
from qianbao.credit.installments import load_plan as _load_plan
from qianbao.credit.installments import reduce_plan as _reduce_plan
from qianbao.credit.pricing import priced_rates
from qianbao.credit.repayments import allocate as _allocate
from qianbao.credit.statements import load_statement as _load_statement
from qianbao.credit.statements import settle_statuses as _settle_statuses
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import Leg, credit, debit
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import HUABEI, HUABEI_PURCHASE, INSTANT, Pay, Refund
from qianbao.money_movement.errors import AmountInvalid, RefundAmountExceeded
from qianbao.money_movement.guards import check_amount
from qianbao.money_movement.ports import Funded
from qianbao.money_movement.quote import Paid, Quote, RefundQuote
from qianbao.payments import service as payments
from qianbao.platform import idempotency
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.money import proportional_fen
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


# --- use: Huabei as a funding source ------------------------------------------------------------
@dataclass(frozen=True)
class HuabeiCharge:
    """What ``charge_huabei`` booked and what the caller must put in its voucher."""

    purchase_id: str
    legs: list[Leg]  # debit the user's receivable (and credit a subsidised installment fee)
    merchant_pays_fen: int  # installment fee the merchant pays: deduct it from its credit


def _take_line(
    ctx: WriteContext, cfg: CreditConfig, user_id: str, amount_fen: int, column: str, category: str
) -> None:
    if category not in CATEGORIES:
        raise CategoryInvalid(f"category must be one of {CATEGORIES}")
    tx = ctx.tx
    if tx.execute(
        f"UPDATE credit_accounts SET {column} = {column} + :a, updated_at_ms = :now"
        " WHERE user_id = :u AND status = 'ACTIVE' AND overdue_days = 0 AND NOT EXISTS"
        " (SELECT 1 FROM credit_statements s WHERE s.user_id = :u AND s.status = 'OVERDUE')"
        " AND line_fen - unbilled_fen - billed_fen - installment_fen >= :a"
        " AND (:medical = 1 OR :cap - unbilled_fen - billed_fen - installment_fen >= :a)",
        {
            "a": amount_fen,
            "now": _now(),
            "u": user_id,
            "medical": int(category == "medical"),
            "cap": cfg.everyday_cap_fen,
        },
    ):
        return
    a = load_account(tx, user_id)
    if a["status"] != "ACTIVE":
        raise CreditFrozen(f"Huabei is {a['status'].lower()}: {a['frozen_reason']}".strip(": "))
    raise_if_overdue(tx, a)
    raise LineExceeded(f"only {available_fen(cfg, a, category)} fen of the line is available")


def raise_if_overdue(tx: Tx, a: Row) -> None:
    if a["overdue_days"] > 0 or tx.one(
        "SELECT 1 AS x FROM credit_statements WHERE user_id = :u AND status = 'OVERDUE'",
        {"u": a["user_id"]},
    ):
        raise CreditOverdue("Huabei is frozen while a bill is overdue")


def charge_huabei(
    ctx: WriteContext,
    user_id: str,
    amount_fen: int,
    ref: str,
    *,
    merchant_id: str = "",
    merchant_fee_fen: int = 0,
    category: str = "everyday",
    deferred: bool = False,
    installments: int | None = None,
    subsidised: bool = False,
) -> HuabeiCharge:
    """Fund ``amount_fen`` of a payment with the user's Huabei line, inside the caller's command.

    Checks and takes the line (guarded), records the credit purchase under ``ref`` and returns
    the legs the caller must include in the same command's voucher. ``deferred`` (secured
    trades) keeps the purchase off any bill until ``confirm_huabei`` names its bill month.
    ``installments`` turns the purchase into a purchase installment plan (3/6/12 periods);
    ``subsidised`` makes the merchant pay that plan's fee.
    """
    cfg = config_for(ctx.platform)
    if amount_fen <= 0:
        raise AmountInvalid("amount_fen must be positive")
    tx = ctx.tx
    purchase_id = new_id(bucket_of(user_id))
    column = "installment_fen" if installments else "unbilled_fen"
    plan_fee, plan_id = 0, None
    if installments is not None:  # the user's priced rates are read only for a plan
        rates = priced_rates(tx, user_id, cfg.purchase_installment_rates)
        plan_fee = sched.installment_fee(amount_fen, installments, rates, cfg.installment_min_fen)
        if deferred:
            raise InstallmentNotAllowed("a secured trade cannot be split at the cashier")
        _take_line(ctx, cfg, user_id, amount_fen, column, category)
        plan_id = _create_plan(
            tx,
            cfg,
            user_id,
            "PURCHASE",
            purchase_id,
            amount_fen,
            installments,
            rates[installments],
            plan_fee,
            subsidised,
            sched.next_bill_date(_today(), cfg.bill_day),
        )
    else:
        _take_line(ctx, cfg, user_id, amount_fen, column, category)
    bill_date = None if deferred or plan_id else sched.next_bill_date(_today(), cfg.bill_day)
    _insert_purchase(
        tx,
        purchase_id,
        user_id,
        merchant_id,
        ref,
        amount_fen,
        merchant_fee_fen,
        category,
        bill_date,
        plan_id,
    )
    legs: list[Leg] = [debit(receivable(user_id), amount_fen)]
    merchant_pays = plan_fee if subsidised else 0
    if merchant_pays:
        legs.append(credit(unit_account("installment_fee_income", ctx.unit), merchant_pays))
    return HuabeiCharge(purchase_id, legs, merchant_pays)


def _insert_purchase(
    tx: Tx,
    purchase_id: str,
    user_id: str,
    merchant_id: str,
    ref: str,
    amount_fen: int,
    merchant_fee_fen: int,
    category: str,
    bill_date: date | None,
    plan_id: str | None,
) -> None:
    now = _now()
    tx.execute(
        "INSERT INTO credit_purchases (id, user_id, merchant_id, ref, amount_fen, merchant_fee_fen,"
        " refunded_fen, category, bill_date, plan_id, status, created_at_ms, updated_at_ms)"
        " VALUES (:id, :u, :m, :ref, :a, :fee, 0, :cat, :bill, :plan, 'SUCCEEDED', :now, :now)",
        {
            "id": purchase_id,
            "u": user_id,
            "m": merchant_id,
            "ref": ref,
            "a": amount_fen,
            "fee": merchant_fee_fen,
            "cat": category,
            "bill": bill_date.isoformat() if bill_date else None,
            "plan": plan_id,
            "now": now,
        },
    )


def confirm_huabei(ctx: WriteContext, ref: str) -> None:
    """A secured trade was confirmed: its Huabei purchase enters this month's bill."""
    cfg = config_for(ctx.platform)
    ctx.tx.execute(
        "UPDATE credit_purchases SET bill_date = :b, updated_at_ms = :now"
        " WHERE ref = :ref AND bill_date IS NULL AND plan_id IS NULL",
        {"b": sched.next_bill_date(_today(), cfg.bill_day).isoformat(), "now": _now(), "ref": ref},
    )


def pay_merchant_with_huabei(
    p: Platform,
    user_id: str,
    merchant_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    installments: int | None = None,
    subsidised: bool = False,
    category: str | None = None,
    memo: str = "",
) -> Row:
    """Instant merchant payment funded by Huabei: the merchant is paid by its contract (minus
    its fee, and minus the installment fee when it subsidises the plan); the user owes the
    platform. One ``Pay`` through the money-movement engine."""
    command = huabei_payment_command(
        p,
        user_id,
        merchant_id,
        amount_fen,
        request_id,
        pay_password,
        installments,
        subsidised,
        category,
        memo,
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def huabei_payment_command(
    p: Platform,
    user_id: str,
    merchant_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    installments: int | None = None,
    subsidised: bool = False,
    category: str | None = None,
    memo: str = "",
) -> Pay:
    """Check and authorize a Huabei payment; returns its ``Pay`` command (for callers that
    submit many payments at once, e.g. the simulation: ``p.commands.bind(command)``)."""
    check_amount(p, amount_fen)
    merchant = guards.payable_merchant(p, merchant_id)
    _check_declared_category(merchant, category)
    payer = guards.authorise(p, user_id, amount_fen, pay_password)
    return money_pay.command(
        purpose=HUABEI_PURCHASE,
        payment_id=new_id(bucket_of(user_id)),
        payer=payer,
        merchant=merchant,
        amount_fen=amount_fen,
        request_id=request_id,
        memo=memo,
        funding=HUABEI,
        installments=installments,
        subsidised=subsidised,
    )


def _check_declared_category(merchant: Row, declared: str | None) -> None:
    """The purchase's category is the merchant's (``Pay`` takes it from the merchant row); a
    buyer may still send one, but only the merchant's own."""
    if declared is None:
        return
    if declared not in CATEGORIES:
        raise CategoryInvalid(f"category must be one of {CATEGORIES}")
    if declared != merchant["category"]:
        raise CategoryNotTheMerchants(
            f"this merchant sells {merchant['category']} goods: a purchase cannot be {declared}"
        )


class HuabeiFunding:
    """Huabei as the engine's funding source: the line pays, the user owes the platform."""

    def check_usable(self, p: Platform, payer_id: str) -> None:
        with p.db_for(payer_id).read() as tx:
            a = tx.one("SELECT status FROM credit_accounts WHERE user_id = :u", {"u": payer_id})
        if a is None or a["status"] == "CLOSED":
            raise AccountNotFound("no open Huabei account: payment codes can only use the balance")

    def confirm(self, ctx: WriteContext, ref: str) -> None:
        confirm_huabei(ctx, ref)

    def take(self, ctx: WriteContext, pay: Pay, quote: Quote) -> Funded:
        charge = charge_huabei(
            ctx,
            pay.payer_id,
            quote.pays_fen,
            pay.payment_id,
            merchant_id=pay.merchant_id,
            merchant_fee_fen=quote.fee_fen,
            category=pay.category,
            deferred=pay.escrowed,
            installments=pay.installments,
            subsidised=pay.subsidised,
        )
        return Funded(charge.legs, charge.merchant_pays_fen, charge.purchase_id)

    def give_back(self, ctx: WriteContext, refund: Refund, paid: Paid, amount_fen: int) -> Funded:
        back = restore_huabei(ctx, paid.funding_ref, amount_fen, refund.refund_id)
        return Funded(back.legs, back.merchant_back_fen)


class HuabeiPurchasePurpose:
    """A direct Huabei payment to a merchant: its record is the credit purchase itself."""

    pay_voucher, refund_voucher, scope = "credit.purchase", "credit.refund", "credit.pay"

    def open(self, ctx: WriteContext, pay: Pay) -> Row | None:
        return None

    def replay(self, ctx: WriteContext, first_id: str) -> Row:
        return _purchase_by_ref(ctx.tx, first_id)

    def voucher_ref(self, pay: Pay, funded: Funded) -> str:
        return pay.payment_id

    def record(
        self, ctx: WriteContext, pay: Pay, quote: Quote, funded: Funded, opened: Row | None
    ) -> Row:
        payments.record_activity(
            ctx,
            pay.merchant_id,
            pay.payment_id,
            "PAYMENT",
            funded.record_id,
            pay.amount_fen,
            quote.fee_fen,
        )
        return _purchase_by_ref(ctx.tx, pay.payment_id)

    def paid(self, ctx: WriteContext, refund: Refund) -> Paid:
        pur = ctx.tx.one("SELECT * FROM credit_purchases WHERE id = :id", {"id": refund.paid_id})
        if pur is None or pur["merchant_id"] != refund.merchant_id:
            raise PurchaseNotFound("no such Huabei purchase")
        return Paid(
            paid_id=pur["id"],
            payer_id=pur["user_id"],
            merchant_id=pur["merchant_id"],
            amount_fen=int(pur["amount_fen"]),
            refunded_fen=int(pur["refunded_fen"]),
            fee_fen=int(pur["merchant_fee_fen"]),
            funding=HUABEI,
            funding_ref=pur["ref"],
        )

    def check_refundable(self, ctx: WriteContext, paid: Paid) -> None:
        pass  # restore_huabei refuses more than is left

    def replay_refund(self, ctx: WriteContext, refund: Refund, first_id: str) -> Row:
        return self._purchase(ctx, refund.paid_id)

    def record_refund(
        self, ctx: WriteContext, refund: Refund, paid: Paid, quote: RefundQuote, funded: Funded
    ) -> Row:
        payments.record_activity(
            ctx,
            paid.merchant_id,
            refund.refund_id,
            "REFUND",
            paid.paid_id,
            -refund.amount_fen,
            -quote.fee_back_fen,
        )
        return self._purchase(ctx, paid.paid_id)

    def _purchase(self, ctx: WriteContext, purchase_id: str) -> Row:
        row = ctx.tx.one("SELECT * FROM credit_purchases WHERE id = :id", {"id": purchase_id})
        assert row is not None
        return row


def _purchase_by_ref(tx: Tx, ref: str) -> Row:
    row = tx.one("SELECT * FROM credit_purchases WHERE ref = :r", {"r": ref})
    if row is None:
        raise PurchaseNotFound("no Huabei purchase for this reference")
    return row


# --- refunds ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HuabeiRefund:
    legs: list[Leg]  # credit receivable / user balance; debit a subsidised fee back
    merchant_back_fen: int  # subsidised installment fee returned to the merchant


def restore_huabei(ctx: WriteContext, ref: str, amount_fen: int, refund_ref: str) -> HuabeiRefund:
    """Refund ``amount_fen`` of the Huabei purchase made under ``ref``, inside the caller's
    command: restores the line and reduces what the user owes wherever the purchase sits
    (unbilled, on a bill, in an installment plan); money the user already repaid goes back to
    the wallet. Returns the legs for the caller's refund voucher."""
    tx = ctx.tx
    cfg = config_for(ctx.platform)
    pur = _purchase_by_ref(tx, ref)
    refundable = pur["amount_fen"] - pur["refunded_fen"]
    if not 0 < amount_fen <= refundable:
        raise RefundAmountExceeded(f"only {refundable} fen can still be refunded")
    user_id = pur["user_id"]
    a = load_account(tx, user_id)
    owed_back, wallet_back, merchant_back = 0, 0, 0
    if a["status"] == "CLOSED":  # written off: the loss was booked; the refund goes to the user
        wallet_back = amount_fen
    elif pur["plan_id"]:
        plan = _load_plan(tx, user_id, pur["plan_id"])
        owed_back = _reduce_plan(tx, plan, amount_fen)
        if plan["subsidised"]:
            merchant_back = proportional_fen(
                plan["fee_fen"], pur["refunded_fen"], amount_fen, pur["amount_fen"]
            )
        rest = amount_fen - owed_back
        if rest:
            took = _allocate(ctx, cfg, user_id, rest, refund_ref, statements_only=True)
            owed_back += took["total_fen"]
            wallet_back = rest - took["total_fen"]
    elif pur["statement_id"] is None:
        take = min(amount_fen, a["unbilled_fen"])
        wallet_back = amount_fen - take
        tx.execute(
            "UPDATE credit_accounts SET unbilled_fen = unbilled_fen - :t,"
            " prepaid_fen = prepaid_fen - :w WHERE user_id = :u",
            {"t": take, "w": wallet_back, "u": user_id},
        )
        owed_back = take
    else:
        owed_back, wallet_back = _refund_on_statement(
            ctx, cfg, user_id, pur["statement_id"], amount_fen, refund_ref
        )
    refunded = pur["refunded_fen"] + amount_fen
    target = "REFUNDED" if refunded == pur["amount_fen"] else "PARTIALLY_REFUNDED"
    PURCHASE.move(tx, pur["id"], pur["status"], target, refunded_fen=refunded)
    if a["status"] == "CLOSED":
        legs = [credit(payments.user_account(user_id), wallet_back)]
    else:
        legs = [
            credit(receivable(user_id), owed_back),
            credit(payments.user_account(user_id), wallet_back),
        ]
    if merchant_back:
        legs.append(debit(unit_account("installment_fee_income", ctx.unit), merchant_back))
    return HuabeiRefund(legs, merchant_back)


def _refund_on_statement(
    ctx: WriteContext,
    cfg: CreditConfig,
    user_id: str,
    statement_id: str,
    amount_fen: int,
    refund_ref: str,
) -> tuple[int, int]:
    tx = ctx.tx
    st = _load_statement(tx, user_id, statement_id)
    if st["status"] == "WRITTEN_OFF":
        return 0, amount_fen
    unpaid = st["purchase_fen"] - st["installed_fen"] - st["purchase_paid_fen"]
    take = min(amount_fen, unpaid)
    paid_back = min(amount_fen - take, st["purchase_paid_fen"])
    installed_back = amount_fen - take - paid_back
    tx.execute(
        "UPDATE credit_statements SET purchase_fen = purchase_fen - :a,"
        " purchase_paid_fen = purchase_paid_fen - :pb, installed_fen = installed_fen - :ib,"
        " updated_at_ms = :now WHERE id = :id",
        {"a": amount_fen, "pb": paid_back, "ib": installed_back, "now": _now(), "id": st["id"]},
    )
    tx.execute(
        "INSERT INTO credit_statement_items (statement_id, kind, ref, principal_fen,"
        " fee_fen, memo, created_at_ms) VALUES (:s, 'REFUND', :r, :p, 0, 'refund', :now)",
        {"s": st["id"], "r": refund_ref, "p": -amount_fen, "now": _now()},
    )
    tx.execute(
        "UPDATE credit_accounts SET billed_fen = billed_fen - :t WHERE user_id = :u",
        {"t": take, "u": user_id},
    )
    owed_back, wallet_back = take, paid_back
    if installed_back:  # the bill was split: take it off the plan's future periods
        plan = tx.one(
            "SELECT * FROM credit_plans WHERE source_id = :s AND kind = 'BILL'", {"s": st["id"]}
        )
        assert plan is not None
        cut = _reduce_plan(tx, plan, installed_back)
        owed_back += cut
        rest = installed_back - cut
        if rest:
            took = _allocate(ctx, cfg, user_id, rest, refund_ref, statements_only=True)
            owed_back += took["total_fen"]
            wallet_back += rest - took["total_fen"]
    _settle_statuses(tx, cfg, user_id, _today())
    return owed_back, wallet_back


def refund_huabei_purchase(
    p: Platform,
    merchant_id: str,
    purchase_id: str,
    amount_fen: int,
    request_id: str,
    reason: str = "",
) -> Row:
    """A merchant refunds (part of) an instant Huabei payment; the fee comes back in proportion
    (one ``Refund`` through the money-movement engine)."""
    check_amount(p, amount_fen)
    try:
        unit = p.unit_of(purchase_id)
    except ValueError:
        raise PurchaseNotFound("no such Huabei purchase") from None
    command = Refund(
        purpose=HUABEI_PURCHASE,
        refund_id=new_id(bucket_of(purchase_id)),
        merchant_id=merchant_id,
        paid_id=purchase_id,
        amount_fen=amount_fen,
        request_id=idempotency.check_key(request_id),
        reason=reason[:100],
        settle_cycle=str(members.get_merchant_cached(p, merchant_id)["settle_cycle"] or INSTANT),
    )
    result: Row = p.commands.submit(unit, command)
    return result
