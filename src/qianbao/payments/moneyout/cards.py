"""Transfer to any bank card (转账到卡): a user's balance to a card of anyone's, by card number
and holder name, through the bank channel.

The bank confirms the card is the holder's before anything moves (a wrong name is a 4xx and no
money moves). The fee follows the configured rules (``fees.py``): free up to a monthly
allowance, then a rate with a minimum and a maximum. The KYC daily limit counts the transfer
like a payment. A payout the bank declines is reversed in full, fee and allowance included.
"""

from __future__ import annotations

from typing import Any

from qianbao.ledger.chart import user_account
from qianbao.members.identity import luhn_ok
from qianbao.money_movement import guards
from qianbao.payments.moneyout import fees, orders, store
from qianbao.payments.moneyout.errors import CardNoInvalid
from qianbao.payments.moneyout.payouts import check_holder
from qianbao.platform import idempotency
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import IdempotencyKeyReused
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform

CHANNEL = "SIMBANK"


def _card_no(text: str) -> str:
    card_no = text.replace(" ", "")
    if not luhn_ok(card_no):
        raise CardNoInvalid("card number must be 12–19 digits and pass the Luhn check")
    return card_no


def quote_fee(p: Platform, user_id: str, amount_fen: int) -> dict[str, int]:
    """What a transfer of ``amount_fen`` would cost now (the command decides it again)."""
    guards.check_amount(p, amount_fen)
    rules = fees.load(p.settings.extra.get("money_out")).card_transfer
    month = clock.today().isoformat()[:7]
    with p.db_for(user_id).read() as tx:
        used = store.used_this_month(tx, user_id, month)
    fee, free_used = rules.fee(amount_fen, used)
    return {
        "amount_fen": amount_fen,
        "fee_fen": fee,
        "free_used_fen": free_used,
        "free_left_fen": max(0, rules.monthly_free_fen - used - free_used),
    }


def free_left_fen(p: Platform, user_id: str) -> int:
    """The user's free card-transfer allowance left this month."""
    rules = fees.load(p.settings.extra.get("money_out")).card_transfer
    with p.db_for(user_id).read() as tx:
        used = store.used_this_month(tx, user_id, clock.today().isoformat()[:7])
    return max(0, rules.monthly_free_fen - used)


def transfer_to_card(
    p: Platform,
    user_id: str,
    card_no: str,
    holder_name: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None,
    memo: str = "",
) -> Row:
    guards.check_amount(p, amount_fen)
    idempotency.check_key(request_id)
    card_no, holder = _card_no(card_no), check_holder(holder_name)
    first = orders.find_order(p, user_id, orders.CARD_TRANSFER, request_id)
    if first is not None:  # a replay needs no password check and no second bank check
        asked = (card_no, holder, amount_fen, memo[:100])
        if (
            first["account_no"],
            first["holder_name"],
            int(first["amount_fen"]),
            first["memo"],
        ) != asked:
            raise IdempotencyKeyReused("request id was used for another transfer")
        return orders.drive(p, first)
    payer = guards.authorise(p, user_id, amount_fen, pay_password)
    p.channels[CHANNEL].verify_card(card_no, holder)
    rules = fees.load(p.settings.extra.get("money_out")).card_transfer
    command = orders.OpenMoneyOut(
        order_id=new_id(bucket_of(user_id)),
        kind=orders.CARD_TRANSFER,
        owner_id=user_id,
        request_id=request_id,
        source_account=user_account(user_id),
        channel=CHANNEL,
        account_no=card_no,
        holder_name=holder,
        amount_fen=amount_fen,
        memo=memo[:100],
        daily_limit_fen=payer.daily_limit_fen,
        free_fen=rules.monthly_free_fen,
        fee_rate=str(rules.rate),
        min_fee_fen=rules.min_fee_fen,
        max_fee_fen=rules.max_fee_fen,
    )
    opened: Row = p.commands.submit(p.unit_of(user_id), command)
    return orders.drive(p, opened)


def get_card_transfer(p: Platform, user_id: str, order_id: str) -> Row:
    return orders.get_order(p, user_id, orders.CARD_TRANSFER, order_id, refresh=True)


def list_card_transfers(p: Platform, user_id: str, limit: int = 100) -> list[Row]:
    return orders.list_orders(p, user_id, orders.CARD_TRANSFER, limit)


def public_card_transfer(row: Row) -> dict[str, Any]:
    out = orders.public_order(row)
    out["user_id"] = row["owner_id"]
    return out
