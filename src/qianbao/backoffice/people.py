"""What the back office shows of a user or a merchant (``/ops/users``, ``/ops/merchants``): one
read over the services that own each part. Nothing here changes data; the actions are the
owners' (``risk.service.freeze``, ``credit.lines.operator_freeze``, ``members.service``)."""

from __future__ import annotations

from typing import Any

from qianbao.credit import reads as credit_reads
from qianbao.credit.errors import AccountNotFound
from qianbao.ledger import service as ledger
from qianbao.ledger.chart import user_account
from qianbao.members import merchant_category
from qianbao.members import service as members
from qianbao.members import store as members_store
from qianbao.members.errors import MerchantNotFound, UserNotFound
from qianbao.payments import service as payments
from qianbao.platform.db import Row
from qianbao.platform.errors import UnknownId
from qianbao.platform.runtime import Platform
from qianbao.risk import service as risk

POSTINGS_SHOWN = 20


def find_user(p: Platform, query: str) -> Row:
    """A user by id or by phone number."""
    query = query.strip()
    if query.isdigit() and len(query) == 11:
        return members.find_user_by_phone(p, query)
    try:
        return members.get_user(p, query)
    except UnknownId as exc:
        raise UserNotFound(f"no user with id or phone {query!r}") from exc


def find_merchant(p: Platform, query: str) -> Row:
    """A merchant by id or by its exact name."""
    query = query.strip()
    with p.global_db.read() as tx:
        row = members_store.merchant_by_name(tx, query)
    if row is not None:
        return row
    try:
        return members.get_merchant(p, query)
    except UnknownId as exc:
        raise MerchantNotFound(f"no merchant with id or name {query!r}") from exc


def freeze_of(p: Platform, party_kind: str, party_id: str) -> dict[str, Any] | None:
    """The freeze in force on a party, if any."""
    for row in risk.freezes(p):
        if row["party_kind"] == party_kind and row["party_id"] == party_id:
            return dict(row)
    return None


def huabei_of(p: Platform, user_id: str) -> dict[str, Any] | None:
    try:
        return credit_reads.summary(p, user_id)
    except AccountNotFound:
        return None


def user_overview(p: Platform, user: Row) -> dict[str, Any]:
    """The user's profile (masked), unit, balance, cards, latest postings, freeze and Huabei."""
    user_id = str(user["id"])
    postings = ledger.statement(p.db_for(user_id), user_account(user_id), POSTINGS_SHOWN)
    return {
        **members.public_user(user),
        "unit": p.unit_of(user_id),
        **payments.balance(p, user_id),
        "cards": [members.public_card(c) for c in members.list_cards(p, user_id)],
        "postings": postings,
        "freeze": freeze_of(p, "USER", user_id),
        "huabei": huabei_of(p, user_id),
    }


def merchant_overview(p: Platform, merchant: Row) -> dict[str, Any]:
    merchant_id = str(merchant["id"])
    return {
        "merchant_id": merchant_id,
        "name": merchant["name"],
        "status": merchant["status"],
        "fee_rate": merchant["fee_rate"],
        "settle_cycle": merchant["settle_cycle"],
        "category": merchant_category.category_of(merchant),
        "balance": payments.merchant_balance(p, merchant_id),
        "freeze": freeze_of(p, "MERCHANT", merchant_id),
    }
