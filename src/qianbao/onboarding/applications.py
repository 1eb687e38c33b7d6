"""Merchant applications (商户入驻): submitted on the web or by a partner, reviewed by an operator.

An application is a state machine, ``SUBMITTED`` → ``APPROVED`` | ``REJECTED``. Approving it
creates the merchant through the members service (its fee rate, sub-accounts and API key), puts
its settlement account on file through the payouts service (the bank confirms the holder), sets
its category, and issues a one-time activation code for the merchant's web sign-in
(``logins.py``). A second approval of an approved application changes nothing. The settlement
account number is sealed by the vault at rest, like a card, and shown only masked.
See docs/decisions/0925-merchant-onboarding.md."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from qianbao.members import service as members
from qianbao.members import store as member_store
from qianbao.members.errors import MerchantExists
from qianbao.members.merchant_category import DEFAULT_CATEGORY, set_category
from qianbao.members.vault import vault_of
from qianbao.onboarding import logins, store
from qianbao.onboarding.checks import ApplicationForm, checked
from qianbao.onboarding.errors import (
    ApplicationDecided,
    ApplicationExists,
    ApplicationNotFound,
    RejectReasonInvalid,
)
from qianbao.payments.moneyout import payouts
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_for_key, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine

SUBMITTED, APPROVED, REJECTED = "SUBMITTED", "APPROVED", "REJECTED"
APPLICATION = StateMachine(
    "merchant application",
    "merchant_applications",
    {SUBMITTED: {APPROVED, REJECTED}},
    initial={SUBMITTED},
)
STATUSES = (SUBMITTED, APPROVED, REJECTED)
BANK_TOKEN_PURPOSE = "merchant-settlement-account"
BANK_CHANNEL = "SIMBANK"
LIST_MAX = 500


def _context(application_id: str) -> str:
    return f"merchant_applications:{application_id}"


def _number(application_id: str) -> str:
    """The number the applicant keeps: unique because the id is (a look-up needs the phone too,
    so a guessable number reveals nothing)."""
    return "MA" + application_id


def submit(p: Platform, form: ApplicationForm, submitted_by: str = "") -> Row:
    """A new SUBMITTED application. The same licence while an application for it is live:
    the same form again returns that application (a repeat changes nothing); another form is
    ``APPLICATION_EXISTS``."""
    f = checked(form)
    with p.global_db.read() as tx:
        live = store.live_by_licence(tx, f.licence_no)
        if live is None:
            _check_free(tx, f.business_name, f.contact_email)
    if live is not None:
        return _same_or_refuse(p, live, f)
    application_id = new_id(bucket_for_key(f.licence_no))
    vault = vault_of(p)
    row = {
        **asdict(f),
        "id": application_id,
        "application_no": _number(application_id),
        "bank_cipher": vault.encrypt(f.bank_account_no, _context(application_id)),
        "bank_token": vault.token(f.bank_account_no, BANK_TOKEN_PURPOSE),
        "bank_last4": f.bank_account_no[-4:],
        "status": APPLICATION.born(),
        "submitted_by": submitted_by,
        "now": clock.now_ms(),
    }
    with p.global_db.transaction() as tx:
        live = store.live_by_licence(tx, f.licence_no)
        if live is None:
            store.insert_application(tx, row)
    if live is not None:
        return _same_or_refuse(p, live, f)
    return get_application(p, application_id)


def _check_free(tx: Tx, business_name: str, email: str) -> None:
    if member_store.merchant_by_name(tx, business_name) is not None:
        raise MerchantExists(f"a merchant named {business_name!r} exists")
    logins.check_email_free(tx, email)


def _same_or_refuse(p: Platform, live: Row, f: ApplicationForm) -> Row:
    same = bank_account_no(p, live) == f.bank_account_no and all(
        live[k] == v for k, v in asdict(f).items() if k != "bank_account_no"
    )
    if not same:
        raise ApplicationExists(
            f"an application for this licence is already {live['status'].lower()}"
            f" ({live['application_no']})"
        )
    return live


def bank_account_no(p: Platform, row: Row) -> str:
    """The full settlement account number (for the bank only; never shown or logged)."""
    return vault_of(p).decrypt(str(row["bank_cipher"]), _context(str(row["id"])))


def get_application(p: Platform, application_id: str) -> Row:
    with p.global_db.read() as tx:
        row = store.by_id(tx, application_id[:40])
    if row is None:
        raise ApplicationNotFound("no such application")
    return row


def status_for_applicant(p: Platform, application_no: str, phone: str) -> Row:
    """The application whose number and contact phone both match (either wrong: not found)."""
    with p.global_db.read() as tx:
        row = store.by_number(tx, application_no.strip().upper()[:24])
    if row is None or not secrets.compare_digest(
        str(row["contact_phone"]).encode(), phone.strip()[:20].encode()
    ):
        raise ApplicationNotFound("no application with this number and contact phone")
    return row


def list_applications(p: Platform, status: str = "", limit: int = 100) -> list[Row]:
    status = status.strip().upper()
    with p.global_db.read() as tx:
        return store.listing(tx, status if status in STATUSES else None, min(limit, LIST_MAX))


def public_application(row: Row) -> dict[str, Any]:
    """What an operator and a partner see: the account masked, nothing sealed."""
    return {
        "application_id": row["id"],
        "application_no": row["application_no"],
        "business_name": row["business_name"],
        "licence_no": row["licence_no"],
        "contact_name": row["contact_name"],
        "contact_phone": row["contact_phone"],
        "contact_email": row["contact_email"],
        "category": row["category"],
        "bank_account": f"**** **** **** {row['bank_last4']}",
        "account_holder": row["account_holder"],
        "status": row["status"],
        "reject_reason": row["reject_reason"],
        "merchant_id": row["merchant_id"] or None,
        "submitted_at_ms": row["created_at_ms"],
        "updated_at_ms": row["updated_at_ms"],
    }


def applicant_view(row: Row) -> dict[str, Any]:
    """What the applicant sees with the number and phone: the decision, not the details."""
    return {
        "application_no": row["application_no"],
        "business_name": row["business_name"],
        "status": row["status"],
        "reject_reason": row["reject_reason"],
        "submitted_at_ms": row["created_at_ms"],
    }


@dataclass(frozen=True)
class Approval:
    application: Row
    activation_code: str  # '' when the application was approved before (shown once)


def approve(p: Platform, operator_id: str, application_id: str) -> Approval:
    row = get_application(p, application_id)
    if row["status"] == APPROVED:
        return Approval(row, "")
    if row["status"] != SUBMITTED:
        raise ApplicationDecided(f"the application is already {row['status'].lower()}")
    with p.global_db.read() as tx:
        _check_free(tx, str(row["business_name"]), str(row["contact_email"]))
    account_no, holder = bank_account_no(p, row), str(row["account_holder"])
    p.channels[BANK_CHANNEL].verify_card(account_no, holder)  # before anything is created
    merchant, _ = members.create_merchant(p, str(row["business_name"]))
    merchant_id = str(merchant["id"])
    payouts.set_settlement_account(p, merchant_id, account_no, holder, channel=BANK_CHANNEL)
    if row["category"] != DEFAULT_CATEGORY:
        set_category(p, merchant_id, str(row["category"]))
    with p.global_db.transaction() as tx:
        APPLICATION.move(
            tx, row["id"], SUBMITTED, APPROVED, merchant_id=merchant_id, decided_by=operator_id
        )
        code = logins.issue_activation(tx, merchant_id, str(row["contact_email"]))
    return Approval(get_application(p, application_id), code)


def reject(p: Platform, operator_id: str, application_id: str, reason: str) -> Row:
    """Reject with a reason the applicant reads. Rejecting a rejected one changes nothing."""
    reason = " ".join(reason.split())
    if not 4 <= len(reason) <= 200 or not reason.isprintable():
        raise RejectReasonInvalid("the reason must be 4–200 printable characters")
    row = get_application(p, application_id)
    if row["status"] == REJECTED:
        return row
    if row["status"] != SUBMITTED:
        raise ApplicationDecided(f"the application is already {row['status'].lower()}")
    with p.global_db.transaction() as tx:
        APPLICATION.move(
            tx,
            row["id"],
            SUBMITTED,
            REJECTED,
            reject_reason=reason,
            decided_by=operator_id,
            licence_live=None,
        )
    return get_application(p, application_id)
