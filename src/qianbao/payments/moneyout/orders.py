"""A money-out order: one bank payout from the platform's reserve to an outside account.

The order's command (``OpenMoneyOut``) runs in the payer's home unit: it claims the request id,
books the debit at once (``source → withdrawal_clearing`` for the amount, ``→ fee_income`` for
the fee) and records the order PENDING. The bank is then asked (``drive``); its answer settles
the order (``SettleMoneyOut``): SUCCEEDED books ``withdrawal_clearing → bank_reserve``, FAILED
reverses the opening voucher in full (amount and fee back, free allowance given back). A timeout
leaves the order PENDING; the follow-up job queries the bank, and a bank with no record of the
request never received it, so the order fails and is reversed. The same shape as a user's
withdrawal (``payments/service.py``), with the debited account on the order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qianbao.channels.base import FAILED, SUCCEEDED, UNKNOWN, ChannelTimeout
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, post
from qianbao.money_movement import guards
from qianbao.payments.moneyout import store
from qianbao.payments.moneyout.errors import MoneyOutNotFound
from qianbao.payments.moneyout.fees import CardTransferFees
from qianbao.platform import idempotency
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.moneyout")
MERCHANT_PAYOUT, CARD_TRANSFER = "MERCHANT_PAYOUT", "CARD_TRANSFER"
PENDING = "PENDING"
ORDER = StateMachine(
    "money-out order", "money_out_orders", {PENDING: {SUCCEEDED, FAILED}}, initial={PENDING}
)
FOLLOW_UP_BATCH = 1000


@dataclass(frozen=True, slots=True)
class OpenMoneyOut:
    order_id: str
    kind: str
    owner_id: str
    request_id: str
    source_account: str
    channel: str
    account_no: str
    holder_name: str
    amount_fen: int
    memo: str = ""
    daily_limit_fen: int = 0  # a user's KYC daily limit (card transfers); 0: not counted
    free_fen: int = 0  # the card-transfer fee rules, as read at prepare time
    fee_rate: str = "0"
    min_fee_fen: int = 0
    max_fee_fen: int = 0

    def fingerprint(self) -> dict[str, Any]:
        return {
            "account_no": self.account_no,
            "holder": self.holder_name,
            "amount_fen": self.amount_fen,
            "memo": self.memo,
        }

    def fees(self) -> CardTransferFees | None:
        if self.kind != CARD_TRANSFER:
            return None
        return CardTransferFees(
            self.free_fen, Decimal(self.fee_rate), self.min_fee_fen, self.max_fee_fen
        )


@dataclass(frozen=True, slots=True)
class SettleMoneyOut:
    """What the bank answered for a PENDING order: SUCCEEDED, FAILED or UNKNOWN."""

    order_id: str
    outcome: str


def _load(ctx: WriteContext, order_id: str) -> Row:
    row = store.order(ctx.tx, order_id)
    assert row is not None, f"money-out order {order_id} vanished"
    return row


def handle_open(ctx: WriteContext, cmd: OpenMoneyOut) -> Row:
    tx = ctx.tx
    scope = f"moneyout:{cmd.kind}:{cmd.owner_id}"
    first = idempotency.claim(tx, scope, cmd.request_id, cmd.fingerprint(), cmd.order_id)
    if first is not None:
        return _load(ctx, first)
    month = clock.today().isoformat()[:7]
    fee, free_used = 0, 0
    rules = cmd.fees()
    if rules is not None:
        if cmd.daily_limit_fen:
            guards.count_daily(ctx, cmd.owner_id, cmd.amount_fen, cmd.daily_limit_fen)
        fee, free_used = rules.fee(cmd.amount_fen, store.used_this_month(tx, cmd.owner_id, month))
    legs = [
        debit(cmd.source_account, cmd.amount_fen + fee),
        credit(unit_account("withdrawal_clearing", ctx.unit), cmd.amount_fen),
    ]
    if fee:
        legs.append(credit(unit_account("fee_income", ctx.unit), fee))
    post(ctx, cmd.kind.lower(), cmd.order_id, legs)
    store.add_quota(tx, cmd.owner_id, month, free_used)
    now = clock.now_ms()
    store.insert_order(
        tx,
        {
            "id": cmd.order_id,
            "kind": cmd.kind,
            "owner_id": cmd.owner_id,
            "request_id": cmd.request_id,
            "source_account": cmd.source_account,
            "channel": cmd.channel,
            "account_no": cmd.account_no,
            "holder_name": cmd.holder_name,
            "amount_fen": cmd.amount_fen,
            "fee_fen": fee,
            "free_used_fen": free_used,
            "month": month,
            "memo": cmd.memo,
            "asked_bank": False,
            "created_at_ms": now,
            "updated_at_ms": now,
        },
    )
    return _load(ctx, cmd.order_id)


def handle_settle(ctx: WriteContext, cmd: SettleMoneyOut) -> Row:
    order = _load(ctx, cmd.order_id)
    if order["status"] != PENDING:
        return order  # answered already (a query racing the first answer changes nothing)
    if cmd.outcome == UNKNOWN:  # remember that the bank has been asked once
        store.mark_asked(ctx.tx, cmd.order_id, clock.now_ms())
        return _load(ctx, cmd.order_id)
    clearing = unit_account("withdrawal_clearing", ctx.unit)
    amount, fee = int(order["amount_fen"]), int(order["fee_fen"])
    if cmd.outcome == SUCCEEDED:
        reserve = unit_account("bank_reserve", ctx.unit, order["channel"])
        post(
            ctx,
            f"{order['kind'].lower()}.paid",
            order["id"],
            [debit(clearing, amount), credit(reserve, amount)],
        )
    else:
        legs = [debit(clearing, amount), credit(order["source_account"], amount + fee)]
        if fee:
            legs.append(debit(unit_account("fee_income", ctx.unit), fee))
        post(ctx, f"{order['kind'].lower()}.reversal", order["id"], legs)
        store.add_quota(ctx.tx, order["owner_id"], order["month"], -int(order["free_used_fen"]))
    ORDER.move(ctx.tx, order["id"], PENDING, cmd.outcome)
    return _load(ctx, cmd.order_id)


def drive(p: Platform, order: Row) -> Row:
    """Ask the bank (the first call, or a query after a timeout) and settle what it answers."""
    if order["status"] != PENDING:
        return order
    channel = p.channels[order["channel"]]
    try:
        if not order["asked_bank"]:
            outcome = channel.payout(order["id"], order["account_no"], order["amount_fen"])
        else:
            outcome = channel.query(order["id"])
            outcome = FAILED if outcome == UNKNOWN else outcome
    except ChannelTimeout:
        log.warning("money-out %s timed out; outcome unknown until queried", order["id"])
        outcome = UNKNOWN
    result: Row = p.commands.submit(
        p.unit_of(order["owner_id"]), SettleMoneyOut(order["id"], outcome)
    )
    return result


def get_order(p: Platform, owner_id: str, kind: str, order_id: str, *, refresh: bool) -> Row:
    """The order, for its owner only; a PENDING one is first re-asked at the bank."""
    try:
        db = p.db_for(order_id)
    except ValueError:
        raise MoneyOutNotFound("no such order") from None
    with db.read() as tx:
        row = store.order(tx, order_id)
    if row is None or row["owner_id"] != owner_id or row["kind"] != kind:
        raise MoneyOutNotFound("no such order")
    return drive(p, row) if refresh else row


def list_orders(p: Platform, owner_id: str, kind: str, limit: int = 100) -> list[Row]:
    with p.db_for(owner_id).read() as tx:
        return store.orders_of(tx, owner_id, kind, max(1, min(limit, 1000)))


def find_order(p: Platform, owner_id: str, kind: str, request_id: str) -> Row | None:
    with p.db_for(owner_id).read() as tx:
        return store.order_by_request(tx, owner_id, kind, request_id)


def resolve_pending(p: Platform, older_than_ms: int = 0) -> int:
    """Ask the bank about every PENDING order older than ``older_than_ms``; how many settled."""
    cutoff = clock.now_ms() - older_than_ms
    done = 0
    for db in p.units:
        with db.read() as tx:
            pending = store.pending_orders(tx, cutoff, FOLLOW_UP_BATCH)
        for row in pending:
            done += drive(p, row)["status"] != PENDING
    return done


def public_order(row: Row) -> dict[str, Any]:
    no = str(row["account_no"])
    return {
        "order_id": row["id"],
        "kind": row["kind"],
        "request_id": row["request_id"],
        "account": no[:4] + " **** " + no[-4:],
        "holder_name": row["holder_name"],
        "amount_fen": int(row["amount_fen"]),
        "fee_fen": int(row["fee_fen"]),
        "free_used_fen": int(row["free_used_fen"]),
        "memo": row["memo"],
        "status": row["status"],
        "created_at_ms": int(row["created_at_ms"]),
        "updated_at_ms": int(row["updated_at_ms"]),
    }
