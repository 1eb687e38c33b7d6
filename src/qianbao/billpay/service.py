"""Bill payment use cases: billers, looking a bill up, paying it with any funding source
through the engine, the biller's answer (write-off or a full refund), receipts, and the
follow-up of payments whose answer was lost.

    lookup → CreateBillPayment (CREATED; the request id) → Pay (purpose BILL: PAID, money to
    the biller-merchant) → the biller writes the bill off → SettleBill: SUCCEEDED with its
    receipt number, or FAILED → a full refund through the engine in the same command (REFUNDED)

See docs/decisions/0722-bill-payment.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from qianbao.billpay import store
from qianbao.billpay.channel import CATEGORIES, FAILED, SUCCEEDED, UNKNOWN, Answer, Bill
from qianbao.billpay.errors import (
    BillAlreadyPaid,
    BillerCategoryInvalid,
    BillerExists,
    BillerNotFound,
    BillerTimeout,
    BillFundingInvalid,
    BillNotFound,
    BillPaymentNotFound,
)
from qianbao.billpay.purpose import BILL, BILL_PAYMENT, CLOSED, CREATED, PAID, REFUNDED, load
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import BALANCE, CARD, Refund
from qianbao.money_movement.funding import payout_card
from qianbao.money_movement.refund import refund_in
from qianbao.payments import settlement
from qianbao.platform import idempotency
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import IdempotencyKeyReused
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.billpay")
FOLLOW_UP_BATCH = 1000
ABANDONED_AFTER_MS = 30 * 60_000  # a CREATED order never paid is closed after 30 minutes


# --- billers ---------------------------------------------------------------------------------
def register_biller(p: Platform, code: str, name: str, category: str) -> Row:
    """A biller is a merchant of the platform (fee-free by default) reached by the channel."""
    code, category = code.strip().upper(), category.strip().upper()
    if category not in CATEGORIES:
        raise BillerCategoryInvalid(f"category must be one of {', '.join(CATEGORIES)}")
    if not code.isalnum() or not 2 <= len(code) <= 20:
        raise BillerCategoryInvalid("biller code must be 2–20 letters or digits")
    with p.global_db.read() as tx:
        if store.biller(tx, code) is not None:
            raise BillerExists(f"biller {code} exists")
    merchant, _ = members.create_merchant(p, name, members.parse_rate("0"))
    with p.global_db.transaction() as tx:
        store.insert_biller(
            tx,
            {
                "code": code,
                "name": name.strip(),
                "category": category,
                "merchant_id": merchant["id"],
                "now": clock.now_ms(),
            },
        )
    return get_biller(p, code)


def get_biller(p: Platform, code: str) -> Row:
    with p.global_db.read() as tx:
        row = store.biller(tx, code.strip().upper())
    if row is None:
        raise BillerNotFound(f"no biller {code!r}")
    return row


def list_billers(p: Platform) -> list[Row]:
    with p.global_db.read() as tx:
        return store.billers(tx)


def lookup(p: Platform, biller_code: str, account_no: str) -> list[Bill]:
    """查询账单: the unpaid bills of an account at its biller."""
    biller = get_biller(p, biller_code)
    return list(p.billers.lookup(biller["code"], account_no.strip()))


def _the_bill(p: Platform, biller: Row, account_no: str, bill_id: str) -> Bill:
    for bill in p.billers.lookup(biller["code"], account_no):
        if bill.bill_id == bill_id:
            return bill
    raise BillNotFound("no such unpaid bill on this account")


# --- the order and its commands --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateBillPayment:
    payment_id: str
    user_id: str
    request_id: str
    biller_code: str
    merchant_id: str
    account_no: str
    holder: str
    bill_id: str
    period: str
    amount_fen: int
    funding: str
    card_id: str | None = None
    agreement_id: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        return {
            "biller": self.biller_code,
            "account_no": self.account_no,
            "bill_id": self.bill_id,
            "funding": self.funding,
            "card_id": self.card_id,
        }


def handle_create(ctx: WriteContext, cmd: CreateBillPayment) -> Row:
    scope = f"billpay.order:{cmd.user_id}"
    first = idempotency.claim(ctx.tx, scope, cmd.request_id, cmd.fingerprint(), cmd.payment_id)
    if first is not None:
        return load(ctx, first)
    row = {
        k: getattr(cmd, k)
        for k in (
            "user_id",
            "request_id",
            "biller_code",
            "merchant_id",
            "account_no",
            "holder",
            "bill_id",
            "period",
            "amount_fen",
            "funding",
            "card_id",
            "agreement_id",
        )
    }
    store.insert_payment(ctx.tx, {**row, "id": cmd.payment_id, "now": clock.now_ms()})
    return load(ctx, cmd.payment_id)


@dataclass(frozen=True, slots=True)
class SettleBill:
    """The biller's answer for a PAID payment: SUCCEEDED, FAILED or UNKNOWN."""

    payment_id: str
    outcome: str
    receipt_no: str = ""
    reason: str = ""
    refund_id: str = ""
    settle_cycle: str = "INSTANT"


def handle_settle(ctx: WriteContext, cmd: SettleBill) -> Row:
    row = load(ctx, cmd.payment_id)
    if row["status"] != PAID:
        return row  # answered already
    if cmd.outcome == UNKNOWN:
        store.mark_asked(ctx.tx, cmd.payment_id, max(clock.now_ms(), row["updated_at_ms"] + 1))
        return load(ctx, cmd.payment_id)
    if cmd.outcome == SUCCEEDED:
        BILL_PAYMENT.move(ctx.tx, row["id"], PAID, SUCCEEDED, receipt_no=cmd.receipt_no[:40])
        return load(ctx, cmd.payment_id)
    refund = Refund(
        purpose=BILL,
        refund_id=cmd.refund_id,
        merchant_id=row["merchant_id"],
        paid_id=row["id"],
        amount_fen=int(row["amount_fen"]),
        request_id=None,  # the payment's own state (PAID, once) guards the refund
        reason=f"biller refused: {cmd.reason}"[:100],
        settle_cycle=cmd.settle_cycle,
    )
    return refund_in(ctx, refund, ctx.platform.money.purposes[BILL].paid(ctx, refund))


# --- paying a bill ---------------------------------------------------------------------------
def pay_bill(
    p: Platform,
    user_id: str,
    biller_code: str,
    account_no: str,
    bill_id: str,
    request_id: str,
    pay_password: str | None,
    *,
    funding: str = BALANCE,
    card_id: str | None = None,
    consent: tuple[str, guards.Authorised] | None = None,
) -> Row:
    """缴费: pay one bill of an account. ``consent`` (agreement id, authorisation) is the
    automatic payment's: the user agreed once, so no password is asked."""
    idempotency.check_key(request_id)
    if funding not in p.money.funding:  # any funding source wired into the engine
        raise BillFundingInvalid(f"funding must be one of {', '.join(sorted(p.money.funding))}")
    biller = get_biller(p, biller_code)
    with p.db_for(user_id).read() as tx:
        first = store.payment_by_request(tx, user_id, request_id)
    if first is not None:
        asked = (biller["code"], account_no.strip(), bill_id, funding, card_id)
        stored = ("biller_code", "account_no", "bill_id", "funding", "card_id")
        if tuple(first[k] for k in stored) != asked:
            raise IdempotencyKeyReused("request id was used for another bill payment")
        if first["status"] != CREATED:
            return drive(p, first)
    bill = _the_bill(p, biller, account_no.strip(), bill_id)
    merchant = guards.payable_merchant(p, biller["merchant_id"])
    payer = consent[1] if consent else guards.authorise(p, user_id, bill.amount_fen, pay_password)
    p.money.funding[funding].check_usable(p, user_id)
    card = members.get_card(p, user_id, card_id or "") if funding == CARD else None
    order = first or _create(p, user_id, request_id, biller, bill, funding, card, consent)
    command = money_pay.command(
        purpose=BILL,
        payment_id=order["id"],
        payer=payer,
        merchant=merchant,
        amount_fen=bill.amount_fen,
        request_id=None,  # the order's state (CREATED, once) guards a second pay
        memo=f"{biller['name']} {bill.period}",
        funding=funding,
        card_id=card["id"] if card else None,
        card_channel=str(card["channel"]) if card else "",
        charge_ref=f"B{order['id']}{new_id(bucket_of(user_id))[-8:]}",
    )
    try:
        money_pay.submit(p, p.unit_of(user_id), command)
    except BillAlreadyPaid:
        again = get_payment(p, user_id, order["id"], refresh=False)
        if again["status"] == CREATED:
            raise
        return drive(p, again)  # a concurrent replay of this request paid it
    return drive(p, get_payment(p, user_id, order["id"], refresh=False))


def _create(
    p: Platform,
    user_id: str,
    request_id: str,
    biller: Row,
    bill: Bill,
    funding: str,
    card: Row | None,
    consent: tuple[str, guards.Authorised] | None,
) -> Row:
    command = CreateBillPayment(
        payment_id=new_id(bucket_of(user_id)),
        user_id=user_id,
        request_id=request_id,
        biller_code=biller["code"],
        merchant_id=biller["merchant_id"],
        account_no=bill.account_no,
        holder=bill.holder,
        bill_id=bill.bill_id,
        period=bill.period,
        amount_fen=bill.amount_fen,
        funding=funding,
        card_id=card["id"] if card else None,
        agreement_id=consent[0] if consent else None,
    )
    row: Row = p.commands.submit(p.unit_of(user_id), command)
    return row


def drive(p: Platform, row: Row) -> Row:
    """Tell the biller (or ask it again after a lost answer) and settle what it says."""
    if row["status"] != PAID:
        return row
    try:
        if not row["asked_biller"]:
            answer = p.billers.pay(row["id"], row["biller_code"], row["bill_id"], row["amount_fen"])
        else:
            answer = p.billers.query(row["id"])
            answer = Answer(FAILED, reason="never received") if answer.status == UNKNOWN else answer
    except BillerTimeout:
        log.warning("bill payment %s: the biller did not answer; asking again later", row["id"])
        answer = Answer(UNKNOWN)
    command = SettleBill(
        payment_id=row["id"],
        outcome=answer.status,
        receipt_no=answer.receipt_no,
        reason=answer.reason,
        refund_id=new_id(bucket_of(row["id"])),
        settle_cycle=settlement.cycle_of(p, row["merchant_id"]),
    )
    settled: Row = p.commands.submit(p.unit_of(row["user_id"]), command)
    if settled["status"] == REFUNDED and settled["funding"] == CARD:  # the bank is idempotent
        card = members.get_card(p, settled["user_id"], settled["card_id"] or "")
        payout_card(p, card, f"R{settled['id']}", int(settled["amount_fen"]))
    return settled


def get_payment(p: Platform, user_id: str, payment_id: str, *, refresh: bool = True) -> Row:
    """A bill payment (its receipt), for its payer only; an unanswered one is asked again."""
    try:
        db = p.db_for(payment_id)
    except ValueError:
        raise BillPaymentNotFound("no such bill payment") from None
    with db.read() as tx:
        row = store.payment(tx, payment_id)
    if row is None or row["user_id"] != user_id:
        raise BillPaymentNotFound("no such bill payment")
    return drive(p, row) if refresh else row


def list_payments(p: Platform, user_id: str, limit: int = 100) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return store.payments_of(tx, user_id, max(1, min(limit, 1000)))


@dataclass(frozen=True, slots=True)
class CloseBillPayment:
    """An order whose pay never went through (a short balance, a wrong password) is closed."""

    payment_id: str


def handle_close(ctx: WriteContext, cmd: CloseBillPayment) -> Row:
    row = load(ctx, cmd.payment_id)
    if row["status"] == CREATED:
        BILL_PAYMENT.move(ctx.tx, cmd.payment_id, CREATED, CLOSED)
    return load(ctx, cmd.payment_id)


def resolve_unanswered(p: Platform, older_than_ms: int = 0) -> int:
    """Ask the biller about every PAID payment made more than ``older_than_ms`` ago, and close
    the orders abandoned before paying; returns how many were settled or closed."""
    now = clock.now_ms()
    done = 0
    for unit, db in p.owned_dbs():
        with db.read() as tx:
            rows = store.unanswered(tx, now - older_than_ms, FOLLOW_UP_BATCH)
            stale = store.stale_created(tx, now - ABANDONED_AFTER_MS, FOLLOW_UP_BATCH)
        for row in rows:
            done += drive(p, row)["status"] != PAID
        for row in stale:
            done += p.commands.submit(unit, CloseBillPayment(row["id"]))["status"] == CLOSED
    return done


class UnansweredBills:
    """Money out's ``PayoutHold``: what a biller received for bills it has not answered yet is
    not paid out (a refusal refunds it from the biller's balance)."""

    def held_by_unit(self, p: Platform, merchant_id: str) -> list[int]:
        held = []
        for db in p.units:
            with db.read() as tx:
                held.append(store.unanswered_fen(tx, merchant_id))
        return held


def public_payment(row: Row) -> dict[str, Any]:
    """The receipt (缴费凭证) of a bill payment."""
    return {
        "payment_id": row["id"],
        "request_id": row["request_id"],
        "biller_code": row["biller_code"],
        "account_no": row["account_no"],
        "holder": row["holder"],
        "bill_id": row["bill_id"],
        "period": row["period"],
        "amount_fen": int(row["amount_fen"]),
        "funding": row["funding"],
        "automatic": row["agreement_id"] is not None,
        "status": row["status"],
        "receipt_no": row["receipt_no"],
        "reason": row["reason"],
        "created_at_ms": int(row["created_at_ms"]),
        "updated_at_ms": int(row["updated_at_ms"]),
    }
