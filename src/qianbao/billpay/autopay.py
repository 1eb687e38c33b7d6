"""Automatic payment of recurring bills (代扣) with the user's consent.

The user agrees once, with the payment password, per biller account and with a maximum per
bill; the daily job pays every unpaid bill of each active agreement that is within the maximum,
from the balance, with the request id ``auto-<bill id>``, so a re-run (or a restart) pays no bill
twice. A bill above the maximum waits for the user. Cancelling stops the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from qianbao.billpay import service, store
from qianbao.billpay.errors import AgreementLimitInvalid, AgreementNotFound
from qianbao.members import service as members
from qianbao.money_movement import guards, limits
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

ACTIVE, CANCELLED = "ACTIVE", "CANCELLED"
AGREEMENT = StateMachine(
    "autopay agreement", "autopay_agreements", {ACTIVE: {CANCELLED}}, initial={ACTIVE}
)
PAGE = 500


@dataclass(frozen=True, slots=True)
class SignAgreement:
    agreement_id: str
    user_id: str
    biller_code: str
    account_no: str
    max_amount_fen: int


def handle_sign(ctx: WriteContext, cmd: SignAgreement) -> Row:
    """One active agreement per user and account: signing again updates nothing, returns it."""
    existing = store.active_agreement(ctx.tx, cmd.user_id, cmd.biller_code, cmd.account_no)
    if existing is not None:
        return existing
    store.insert_agreement(
        ctx.tx,
        {
            "id": cmd.agreement_id,
            "user_id": cmd.user_id,
            "biller_code": cmd.biller_code,
            "account_no": cmd.account_no,
            "max_amount_fen": cmd.max_amount_fen,
            "now": clock.now_ms(),
        },
    )
    row = store.agreement(ctx.tx, cmd.agreement_id)
    assert row is not None
    return row


@dataclass(frozen=True, slots=True)
class CancelAgreement:
    agreement_id: str
    user_id: str


def handle_cancel(ctx: WriteContext, cmd: CancelAgreement) -> Row:
    row = store.agreement(ctx.tx, cmd.agreement_id)
    if row is None or row["user_id"] != cmd.user_id:
        raise AgreementNotFound("no such agreement")
    if row["status"] == ACTIVE:
        AGREEMENT.move(ctx.tx, cmd.agreement_id, ACTIVE, CANCELLED)
    found = store.agreement(ctx.tx, cmd.agreement_id)
    assert found is not None
    return found


def sign(
    p: Platform,
    user_id: str,
    biller_code: str,
    account_no: str,
    max_amount_fen: int,
    pay_password: str,
) -> Row:
    """The user's consent (签约代扣), confirmed with the payment password."""
    guards.check_amount(p, max_amount_fen)
    if max_amount_fen > 5_000_00:
        raise AgreementLimitInvalid("an automatic payment may be at most 5,000 CNY a bill")
    biller = service.get_biller(p, biller_code)
    service.lookup(p, biller["code"], account_no)  # the account must exist at the biller
    members.authorize_payment(p, user_id, max_amount_fen, pay_password)
    command = SignAgreement(
        new_id(bucket_of(user_id)), user_id, biller["code"], account_no.strip(), max_amount_fen
    )
    row: Row = p.commands.submit(p.unit_of(user_id), command)
    return row


def cancel(p: Platform, user_id: str, agreement_id: str) -> Row:
    try:
        unit = p.unit_of(agreement_id)
    except ValueError:
        raise AgreementNotFound("no such agreement") from None
    row: Row = p.commands.submit(unit, CancelAgreement(agreement_id, user_id))
    return row


def agreements(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return store.agreements_of(tx, user_id)


def _consent(p: Platform, agreement: Row, amount_fen: int) -> guards.Authorised | None:
    """The authorisation the agreement gives: the user still active, within the KYC limit."""
    user = members.get_user(p, agreement["user_id"])
    if user["status"] != "ACTIVE" or amount_fen > int(agreement["max_amount_fen"]):
        return None
    return guards.Authorised(
        user, limits.check_per_payment(user["kyc_level"], amount_fen).per_day_fen
    )


def run_autopay(p: Platform, day: date) -> dict[str, Any]:
    """The day's automatic payments over every active agreement (idempotent per bill)."""
    paid: list[dict[str, Any]] = []
    waiting: list[str] = []
    failed: list[str] = []
    for db in p.units:
        after = ""
        while True:
            with db.read() as tx:
                page = store.active_agreements(tx, after, PAGE)
            for agreement in page:
                _pay_agreement(p, agreement, paid, waiting, failed)
            if len(page) < PAGE:
                break
            after = page[-1]["id"]
    return {"day": day.isoformat(), "paid": paid, "waiting": waiting, "failed": failed}


def _pay_agreement(
    p: Platform, agreement: Row, paid: list[Any], waiting: list[str], failed: list[str]
) -> None:
    try:
        bills = service.lookup(p, agreement["biller_code"], agreement["account_no"])
    except QianbaoError:
        failed.append(agreement["id"])
        return
    for bill in bills:
        authorised = _consent(p, agreement, bill.amount_fen)
        if authorised is None:
            waiting.append(bill.bill_id)
            continue
        try:
            row = service.pay_bill(
                p,
                agreement["user_id"],
                agreement["biller_code"],
                agreement["account_no"],
                bill.bill_id,
                f"auto-{bill.bill_id}"[:64],
                None,
                consent=(agreement["id"], authorised),
            )
        except QianbaoError as exc:  # e.g. the balance is short today: tried again tomorrow
            service.log.info("automatic payment of %s refused: %s", bill.bill_id, exc.code)
            failed.append(bill.bill_id)
            continue
        paid.append(service.public_payment(row))


def public_agreement(row: Row) -> dict[str, Any]:
    return {
        "agreement_id": row["id"],
        "biller_code": row["biller_code"],
        "account_no": row["account_no"],
        "max_amount_fen": int(row["max_amount_fen"]),
        "status": row["status"],
        "created_at_ms": int(row["created_at_ms"]),
    }
