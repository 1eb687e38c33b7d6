"""Payment use cases. Each write runs as one command in the payer's unit writer, claims its
idempotency key first, and books every movement as a voucher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from qianbao.channels.base import FAILED, SUCCEEDED, UNKNOWN, BankUnavailable, ChannelTimeout
from qianbao.ledger.chart import in_transit, unit_account, user_account
from qianbao.ledger.service import credit, debit, post
from qianbao.members import service as members
from qianbao.members import vault as members_vault
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import BALANCE, PAYMENT, YUEBAO, Pay, Refund
from qianbao.money_movement.context import current as current_context
from qianbao.money_movement.errors import FundingInvalid
from qianbao.money_movement.guards import check_amount
from qianbao.money_movement.ports import Funded, Movement
from qianbao.money_movement.quote import Paid, Quote, RefundQuote
from qianbao.payments import settlement
from qianbao.payments.activity import record_activity
from qianbao.payments.errors import (
    OrderNotFound,
    PaymentNotFound,
    TransferToSelf,
)
from qianbao.platform import idempotency, messages
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.money import apply_rate
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.payments")

BANK_ORDER = StateMachine("bank order", "bank_orders", {"PENDING": {"SUCCEEDED", "FAILED"}})
# Payments, their refunds and transfers are recorded SUCCEEDED inside the command that moves the
# money (one INSERT, no insert-then-move on the hot path); refunds then move a payment.
PAYMENT_STATES = StateMachine(
    "payment",
    "payments",
    {
        "SUCCEEDED": {"PARTIALLY_REFUNDED", "REFUNDED"},
        "PARTIALLY_REFUNDED": {"PARTIALLY_REFUNDED", "REFUNDED"},
    },
    initial={"SUCCEEDED"},
)
REFUND = StateMachine("refund", "refunds", {"SUCCEEDED": set()}, initial={"SUCCEEDED"})
TRANSFER = StateMachine("transfer", "transfers", {"SUCCEEDED": set()}, initial={"SUCCEEDED"})


def _load(tx: Tx, table: str, row_id: str) -> Row:
    row = tx.one(f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
    assert row is not None, f"{table} {row_id} vanished"
    return row


# --- top-up and withdrawal through a bank channel ----------------------------------------------
def public_bank_order(row: Row) -> dict[str, Any]:
    return {
        "order_id": row["id"],
        "kind": row["kind"],
        "user_id": row["user_id"],
        "card_id": row["card_id"],
        "amount_fen": row["amount_fen"],
        "fee_fen": row["fee_fen"],
        "status": row["status"],
        "created_at_ms": row["created_at_ms"],
    }


def _withdraw_fee(p: Platform, tx: Tx, user_id: str, amount_fen: int) -> tuple[int, int]:
    """(fee, free quota used): 0.1% above the lifetime free quota, at least the minimum fee."""
    s = p.settings
    used = int(
        tx.scalar("SELECT used_fen FROM withdraw_quota WHERE user_id = :u", {"u": user_id}) or 0
    )
    free_part = max(0, min(amount_fen, s.withdraw_free_quota_fen - used))
    feeable = amount_fen - free_part
    fee = max(apply_rate(feeable, s.withdraw_fee_rate), s.withdraw_min_fee_fen) if feeable else 0
    return fee, free_part


@dataclass(frozen=True, slots=True)
class OpenBankOrder:
    """A top-up or a withdrawal to the user's bound card, before the bank is asked."""

    order_id: str
    kind: str  # TOPUP | WITHDRAW
    user_id: str
    card_id: str
    channel: str
    amount_fen: int
    request_id: str
    context: str = field(default_factory=current_context)  # for the risk check

    def fingerprint(self) -> dict[str, Any]:
        return {"kind": self.kind, "card_id": self.card_id, "amount_fen": self.amount_fen}


@dataclass(frozen=True, slots=True)
class SettleBankOrder:
    """What the bank answered for a PENDING order: SUCCEEDED, FAILED or UNKNOWN."""

    order_id: str
    outcome: str


def _open_bank_order(
    p: Platform, kind: str, user_id: str, card_id: str, amount_fen: int, request_id: str
) -> Row:
    card = members.get_card(p, user_id, card_id)
    command = OpenBankOrder(
        order_id=new_id(bucket_of(user_id)),
        kind=kind,
        user_id=user_id,
        card_id=card_id,
        channel=str(card["channel"]),
        amount_fen=amount_fen,
        request_id=idempotency.check_key(request_id),
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def handle_open_bank_order(ctx: WriteContext, order: OpenBankOrder) -> Row:
    tx = ctx.tx
    scope = f"bank:{order.user_id}"
    first = idempotency.claim(tx, scope, order.request_id, order.fingerprint(), order.order_id)
    if first is not None:
        return _load(tx, "bank_orders", first)
    guards.check_risk(
        ctx,
        Movement(
            kind=order.kind,
            movement_id=order.order_id,
            party_id=order.user_id,
            amount_fen=order.amount_fen,
            payee_id=order.card_id,
            funding="CARD",
            card_id=order.card_id,
            context=order.context,
            command=order,
            request_key=f"{scope}:{order.request_id}",
        ),
    )
    fee, free_used = 0, 0
    if order.kind == "WITHDRAW":
        fee, free_used = _withdraw_fee(ctx.platform, tx, order.user_id, order.amount_fen)
        post(
            ctx,
            "withdraw",
            order.order_id,
            [
                debit(user_account(order.user_id), order.amount_fen + fee),
                credit(unit_account("withdrawal_clearing", ctx.unit), order.amount_fen),
                credit(unit_account("fee_income", ctx.unit), fee),
            ],
        )
        _add_quota(tx, order.user_id, free_used)
    now = clock.now_ms()
    tx.execute(
        "INSERT INTO bank_orders (id, kind, user_id, card_id, channel, amount_fen,"
        " fee_fen, free_quota_used_fen, status, created_at_ms, updated_at_ms) VALUES"
        " (:id, :kind, :u, :card, :ch, :a, :fee, :free, 'PENDING', :now, :now)",
        {
            "id": order.order_id,
            "kind": order.kind,
            "u": order.user_id,
            "card": order.card_id,
            "ch": order.channel,
            "a": order.amount_fen,
            "fee": fee,
            "free": free_used,
            "now": now,
        },
    )
    return _load(tx, "bank_orders", order.order_id)


def _add_quota(tx: Tx, user_id: str, delta_fen: int) -> None:
    if delta_fen:
        tx.execute(
            "INSERT INTO withdraw_quota (user_id, used_fen) VALUES (:u, :d)"
            " ON CONFLICT (user_id) DO UPDATE SET used_fen = withdraw_quota.used_fen + :d",
            {"u": user_id, "d": delta_fen},
        )


def _drive(p: Platform, order: Row, *, fail_fast: bool = False) -> Row:
    """Ask the bank (the first call, or a query after a timeout) and settle what it answers.

    A query is only made after the first call has returned, so a bank with no record of the
    request never received it: the order fails (and a withdrawal is reversed). While the bank's
    breaker is open nothing is sent: the order stays PENDING as after a timeout for the
    follow-up job, and with ``fail_fast`` (a user's request) 503 ``BANK_UNAVAILABLE`` follows.
    """
    if order["status"] != "PENDING":
        return order
    outcome, unavailable = _ask_bank(p, order)
    result: Row = p.commands.submit(
        p.unit_of(order["user_id"]), SettleBankOrder(order["id"], outcome)
    )
    if unavailable is not None and fail_fast and result["status"] == "PENDING":
        why = f"{order['kind'].lower()} {order['id']} stays PENDING; the follow-up job settles it"
        raise BankUnavailable(f"{unavailable.message}: {why}", unavailable.retry_after_s)
    return result


def _ask_bank(p: Platform, order: Row) -> tuple[str, BankUnavailable | None]:
    channel = p.channels[order["channel"]]
    first_call = order["created_at_ms"] == order["updated_at_ms"]
    try:
        if first_call:
            call = channel.charge if order["kind"] == "TOPUP" else channel.payout
            number = members_vault.order_card_number(p, order["user_id"], order["card_id"])
            return str(call(order["id"], number, order["amount_fen"])), None
        outcome = channel.query(order["id"])
        return (FAILED if outcome == UNKNOWN else str(outcome)), None
    except BankUnavailable as exc:
        log.warning("bank order %s not sent: %s", order["id"], exc.message)
        return UNKNOWN, exc
    except ChannelTimeout:
        log.warning("bank order %s timed out; outcome unknown until queried", order["id"])
        return UNKNOWN, None


def handle_settle_bank_order(ctx: WriteContext, command: SettleBankOrder) -> Row:
    tx, order_id, outcome = ctx.tx, command.order_id, command.outcome
    order = _load(tx, "bank_orders", order_id)
    if order["status"] != "PENDING":
        return order
    if outcome == UNKNOWN:  # remember that the bank has been asked once
        tx.execute(
            "UPDATE bank_orders SET updated_at_ms = :now WHERE id = :id",
            {"now": max(clock.now_ms(), order["created_at_ms"] + 1), "id": order_id},
        )
        return _load(tx, "bank_orders", order_id)
    reserve = unit_account("bank_reserve", ctx.unit, order["channel"])
    clearing = unit_account("withdrawal_clearing", ctx.unit)
    user = user_account(order["user_id"])
    amount, fee = order["amount_fen"], order["fee_fen"]
    if order["kind"] == "TOPUP" and outcome == SUCCEEDED:
        post(ctx, "topup", order_id, [debit(reserve, amount), credit(user, amount)])
    elif order["kind"] == "WITHDRAW" and outcome == SUCCEEDED:
        post(ctx, "withdraw.paid", order_id, [debit(clearing, amount), credit(reserve, amount)])
    elif order["kind"] == "WITHDRAW" and outcome == FAILED:
        post(
            ctx,
            "withdraw.reversal",
            order_id,
            [
                debit(clearing, amount),
                debit(unit_account("fee_income", ctx.unit), fee),
                credit(user, amount + fee),
            ],
        )
        _add_quota(tx, order["user_id"], -order["free_quota_used_fen"])
    BANK_ORDER.move(tx, order_id, "PENDING", outcome)
    return _load(tx, "bank_orders", order_id)


def resume_bank_order(p: Platform, order: OpenBankOrder) -> Row:
    """Submit an order whose risk challenge was answered, then ask the bank as usual."""
    result: Row = p.commands.submit(p.unit_of(order.user_id), order)
    return _drive(p, result, fail_fast=True)


def topup(p: Platform, user_id: str, card_id: str, amount_fen: int, request_id: str) -> Row:
    """充值: PENDING until the bank charges the card, then SUCCEEDED (booked) or FAILED."""
    check_amount(p, amount_fen)
    order = _open_bank_order(p, "TOPUP", user_id, card_id, amount_fen, request_id)
    return _drive(p, order, fail_fast=True)


def withdraw(
    p: Platform, user_id: str, card_id: str, amount_fen: int, request_id: str, pay_password: str
) -> Row:
    """提现: debits balance and fee at once; a failed payout is reversed in full."""
    check_amount(p, amount_fen)
    members.authorize_payment(p, user_id, amount_fen, pay_password)
    order = _open_bank_order(p, "WITHDRAW", user_id, card_id, amount_fen, request_id)
    return _drive(p, order, fail_fast=True)


def get_bank_order(p: Platform, user_id: str, order_id: str, *, refresh: bool = True) -> Row:
    """Read an order; a PENDING one is first re-queried at the bank."""
    try:
        db = p.db_for(order_id)
    except ValueError:
        raise OrderNotFound("no such order") from None
    with db.read() as tx:
        order = tx.one("SELECT * FROM bank_orders WHERE id = :id", {"id": order_id})
    if order is None or order["user_id"] != user_id:
        raise OrderNotFound("no such order")
    return _drive(p, order) if refresh else order


def resolve_pending_bank_orders(p: Platform, older_than_ms: int = 0) -> int:
    """Query the bank for every PENDING order older than ``older_than_ms``; returns how many."""
    cutoff = clock.now_ms() - older_than_ms
    done = 0
    for _, db in p.owned_dbs():
        with db.read() as tx:
            pending = tx.all(
                "SELECT * FROM bank_orders WHERE status = 'PENDING'"
                " AND created_at_ms <= :c ORDER BY created_at_ms LIMIT 1000",
                {"c": cutoff},
            )
        for order in pending:
            done += _drive(p, order)["status"] != "PENDING"
    return done


# --- transfers between users ---------------------------------------------------------------------
def public_transfer(row: Row) -> dict[str, Any]:
    return {
        "transfer_id": row["id"],
        "from_user_id": row["from_user_id"],
        "to_user_id": row["to_user_id"],
        "amount_fen": row["amount_fen"],
        "cross_unit": bool(row["cross_unit"]),
        "memo": row["memo"],
        "status": row["status"],
        "created_at_ms": row["created_at_ms"],
    }


def transfer(
    p: Platform,
    from_user: str,
    to_user: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None,
    memo: str = "",
) -> Row:
    """转账 (free). Across units: debit here against in-transit, credit there by message."""
    check_amount(p, amount_fen)
    if from_user == to_user:
        raise TransferToSelf("cannot transfer to yourself")
    members.get_user(p, to_user)
    payer = guards.authorise(p, from_user, amount_fen, pay_password)
    command = Transfer(
        transfer_id=new_id(bucket_of(from_user)),
        from_user_id=from_user,
        to_user_id=to_user,
        amount_fen=amount_fen,
        request_id=idempotency.check_key(request_id),
        daily_limit_fen=payer.daily_limit_fen,
        memo=memo[:100],
    )
    result: Row = p.commands.submit(p.unit_of(from_user), command)
    return result


@dataclass(frozen=True, slots=True)
class Transfer:
    """转账 from one wallet to another, booked in the payer's unit."""

    transfer_id: str
    from_user_id: str
    to_user_id: str
    amount_fen: int
    request_id: str
    daily_limit_fen: int
    memo: str = ""
    context: str = field(default_factory=current_context)  # for the risk check

    def fingerprint(self) -> dict[str, Any]:
        return {"to": self.to_user_id, "amount_fen": self.amount_fen, "memo": self.memo}


def handle_transfer(ctx: WriteContext, t: Transfer) -> Row:
    """Across units: debit here against in-transit, credit there by message, exactly once."""
    tx = ctx.tx
    scope = f"transfer:{t.from_user_id}"
    first = idempotency.claim(tx, scope, t.request_id, t.fingerprint(), t.transfer_id)
    if first is not None:
        return _load(tx, "transfers", first)
    guards.check_risk(
        ctx,
        Movement(
            kind="TRANSFER",
            movement_id=t.transfer_id,
            party_id=t.from_user_id,
            amount_fen=t.amount_fen,
            payee_id=t.to_user_id,
            funding="BALANCE",
            context=t.context,
            command=t,
            request_key=f"{scope}:{t.request_id}",
        ),
    )
    guards.count_daily(ctx, t.from_user_id, t.amount_fen, t.daily_limit_fen)
    target = ctx.platform.unit_of(t.to_user_id)
    payer = user_account(t.from_user_id)
    if target == ctx.unit:
        legs = [debit(payer, t.amount_fen), credit(user_account(t.to_user_id), t.amount_fen)]
        post(ctx, "transfer", t.transfer_id, legs)
    else:
        legs = [debit(payer, t.amount_fen), credit(in_transit(ctx.unit, target), t.amount_fen)]
        post(ctx, "transfer.out", t.transfer_id, legs)
        payload = {
            "transfer_id": t.transfer_id,
            "to_user_id": t.to_user_id,
            "amount_fen": t.amount_fen,
            "source_unit": ctx.unit,
        }
        messages.send(ctx, target, "transfer.credit", payload)
    tx.execute(
        "INSERT INTO transfers (id, from_user_id, to_user_id, amount_fen, cross_unit, memo,"
        " status, created_at_ms, updated_at_ms) VALUES (:id, :f, :t, :a, :x, :m, 'SUCCEEDED',"
        " :now, :now)",
        {
            "id": t.transfer_id,
            "f": t.from_user_id,
            "t": t.to_user_id,
            "a": t.amount_fen,
            "x": target != ctx.unit,
            "m": t.memo,
            "now": clock.now_ms(),
        },
    )
    return _load(tx, "transfers", t.transfer_id)


def credit_transfer(ctx: WriteContext, payload: dict[str, Any]) -> None:
    post(
        ctx,
        "transfer.in",
        payload["transfer_id"],
        [
            debit(in_transit(ctx.unit, payload["source_unit"]), payload["amount_fen"]),
            credit(user_account(payload["to_user_id"]), payload["amount_fen"]),
        ],
    )


def transfer_committed(tx: Tx, payload: dict[str, Any]) -> bool:
    return (
        tx.one("SELECT 1 AS x FROM transfers WHERE id = :id", {"id": payload["transfer_id"]})
        is not None
    )


# --- paying a merchant (即时到账) and refunds ------------------------------------------------
WALLET_FUNDINGS = (BALANCE, YUEBAO)  # a wallet payment's sources (a card pays through trades)


def public_payment(row: Row) -> dict[str, Any]:
    return {
        "payment_id": row["id"],
        "payer_id": row["payer_id"],
        "merchant_id": row["merchant_id"],
        "amount_fen": row["amount_fen"],
        "fee_fen": row["fee_fen"],
        "refunded_fen": row["refunded_fen"],
        "memo": row["memo"],
        "status": row["status"],
        "funding": row["funding"],
        "created_at_ms": row["created_at_ms"],
    }


def pay_merchant(
    p: Platform,
    payer_id: str,
    merchant_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    memo: str = "",
    funding: str = BALANCE,
) -> Row:
    """Instant payment: the merchant is paid by its contract (at once, or T+1), minus its fee;
    from the wallet balance or from Yu'e Bao (``funding``)."""
    check_amount(p, amount_fen)
    _check_wallet_funding(funding)
    merchant = guards.payable_merchant(p, merchant_id)
    payer = guards.authorise(p, payer_id, amount_fen, pay_password)
    pay = _payment(p, payer, merchant, amount_fen, request_id, memo, funding)
    return money_pay.submit(p, p.unit_of(payer_id), pay)


async def pay_merchant_async(
    p: Platform,
    payer_id: str,
    merchant_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    memo: str = "",
    funding: str = BALANCE,
) -> Row:
    """``pay_merchant`` for asyncio callers (the HTTP API): a payment password (a slow argon2
    check) is verified on a worker thread; the command joins the unit's next batch."""
    check_amount(p, amount_fen)
    _check_wallet_funding(funding)
    merchant = guards.payable_merchant(p, merchant_id)
    payer = await guards.authorise_async(p, payer_id, amount_fen, pay_password)
    pay = _payment(p, payer, merchant, amount_fen, request_id, memo, funding)
    return await money_pay.run(p, p.unit_of(payer_id), pay)


def _check_wallet_funding(funding: str) -> None:
    if funding not in WALLET_FUNDINGS:
        raise FundingInvalid(f"a wallet payment is funded by one of {', '.join(WALLET_FUNDINGS)}")


def _payment(
    p: Platform,
    payer: guards.Authorised,
    merchant: Row,
    amount_fen: int,
    request_id: str,
    memo: str,
    funding: str = BALANCE,
) -> Pay:
    """The payment, with the best full-reduction offer of the merchant (满减) if one applies."""
    payer_id = str(payer.payer["id"])
    offer: dict[str, Any] = {}
    money_pay.with_best_offer(p, offer, str(merchant["id"]), amount_fen, p.unit_of(payer_id))
    return money_pay.command(
        purpose=PAYMENT,
        payment_id=new_id(bucket_of(payer_id)),
        payer=payer,
        merchant=merchant,
        amount_fen=amount_fen,
        request_id=request_id,
        memo=memo,
        funding=funding,
        **offer,
    )


class PaymentPurpose:
    """A plain payment to a merchant: a ``payments`` row, refunded through ``refunds`` rows."""

    pay_voucher, refund_voucher, scope = "payment", "refund", "pay"

    def open(self, ctx: WriteContext, pay: Pay) -> Row | None:
        return None

    def replay(self, ctx: WriteContext, first_id: str) -> Row:
        return _load(ctx.tx, "payments", first_id)

    def voucher_ref(self, pay: Pay, funded: Funded) -> str:
        return pay.payment_id

    def record(
        self, ctx: WriteContext, pay: Pay, quote: Quote, funded: Funded, opened: Row | None
    ) -> Row:
        now = clock.now_ms()
        row = {
            "id": pay.payment_id,
            "payer_id": pay.payer_id,
            "merchant_id": pay.merchant_id,
            "amount_fen": pay.amount_fen,
            "fee_fen": quote.fee_fen,
            "refunded_fen": 0,
            "fee_refunded_fen": 0,
            "memo": pay.memo,
            "status": "SUCCEEDED",
            "funding": pay.funding,
            "created_at_ms": now,
            "updated_at_ms": now,
        }
        ctx.tx.execute(
            "INSERT INTO payments (id, payer_id, merchant_id, amount_fen, fee_fen, refunded_fen,"
            " fee_refunded_fen, memo, status, funding, created_at_ms, updated_at_ms) VALUES (:id,"
            " :payer_id, :merchant_id, :amount_fen, :fee_fen, 0, 0, :memo, 'SUCCEEDED',"
            " :funding, :created_at_ms, :updated_at_ms)",
            row,
        )
        record_activity(
            ctx,
            pay.merchant_id,
            pay.payment_id,
            "PAYMENT",
            pay.payment_id,
            pay.amount_fen,
            quote.fee_fen,
        )
        return row

    def paid(self, ctx: WriteContext, refund: Refund) -> Paid:
        pay = ctx.tx.one("SELECT * FROM payments WHERE id = :id", {"id": refund.paid_id})
        if pay is None or pay["merchant_id"] != refund.merchant_id:
            raise PaymentNotFound("no such payment")
        return Paid(
            paid_id=pay["id"],
            payer_id=pay["payer_id"],
            merchant_id=pay["merchant_id"],
            amount_fen=int(pay["amount_fen"]),
            refunded_fen=int(pay["refunded_fen"]),
            fee_fen=int(pay["fee_fen"]),
            funding=str(pay["funding"] or BALANCE),
            funding_ref=pay["id"],
        )

    def check_refundable(self, ctx: WriteContext, paid: Paid) -> None:
        pass  # any payment with money left can be refunded (quote_refund checks the amount)

    def replay_refund(self, ctx: WriteContext, refund: Refund, first_id: str) -> Row:
        return _load(ctx.tx, "refunds", first_id)

    def record_refund(
        self, ctx: WriteContext, refund: Refund, paid: Paid, quote: RefundQuote, funded: Funded
    ) -> Row:
        refunded = paid.refunded_fen + refund.amount_fen
        pay = _load(ctx.tx, "payments", paid.paid_id)
        PAYMENT_STATES.move(
            ctx.tx,
            paid.paid_id,
            pay["status"],
            "REFUNDED" if refunded == paid.amount_fen else "PARTIALLY_REFUNDED",
            refunded_fen=refunded,
            fee_refunded_fen=pay["fee_refunded_fen"] + quote.fee_back_fen,
        )
        now = clock.now_ms()
        ctx.tx.execute(
            "INSERT INTO refunds (id, payment_id, merchant_id, amount_fen, fee_refund_fen, reason,"
            " status, created_at_ms, updated_at_ms) VALUES (:id, :pid, :m, :a, :fee, :r,"
            " 'SUCCEEDED', :now, :now)",
            {
                "id": refund.refund_id,
                "pid": paid.paid_id,
                "m": paid.merchant_id,
                "a": refund.amount_fen,
                "fee": quote.fee_back_fen,
                "r": refund.reason,
                "now": now,
            },
        )
        record_activity(
            ctx,
            paid.merchant_id,
            refund.refund_id,
            "REFUND",
            paid.paid_id,
            -refund.amount_fen,
            -quote.fee_back_fen,
        )
        return _load(ctx.tx, "refunds", refund.refund_id)


def get_payment(p: Platform, payment_id: str, party_id: str) -> Row:
    """The payment, for its payer or its merchant only: to anyone else it does not exist."""
    try:
        db = p.db_for(payment_id)
    except ValueError:
        raise PaymentNotFound("no such payment") from None
    with db.read() as tx:
        row = tx.one("SELECT * FROM payments WHERE id = :id", {"id": payment_id})
    if row is None or party_id not in (row["payer_id"], row["merchant_id"]):
        raise PaymentNotFound("no such payment")
    return row


def public_refund(row: Row) -> dict[str, Any]:
    return {
        "refund_id": row["id"],
        "payment_id": row["payment_id"],
        "amount_fen": row["amount_fen"],
        "fee_refund_fen": row["fee_refund_fen"],
        "reason": row["reason"],
        "status": row["status"],
        "created_at_ms": row["created_at_ms"],
    }


def refund(
    p: Platform,
    merchant_id: str,
    payment_id: str,
    amount_fen: int,
    request_id: str,
    reason: str = "",
) -> Row:
    """Full or partial refund; never more than paid; the fee comes back in proportion."""
    check_amount(p, amount_fen)
    if get_payment(p, payment_id, merchant_id)["merchant_id"] != merchant_id:
        raise PaymentNotFound("no such payment")  # its payer cannot refund it
    command = Refund(
        purpose=PAYMENT,
        refund_id=new_id(bucket_of(payment_id)),
        merchant_id=merchant_id,
        paid_id=payment_id,
        amount_fen=amount_fen,
        request_id=idempotency.check_key(request_id),
        reason=reason[:100],
        settle_cycle=settlement.cycle_of(p, merchant_id),
    )
    result: Row = p.commands.submit(p.unit_of(payment_id), command)
    return result


def list_refunds(p: Platform, payment_id: str, party_id: str) -> list[Row]:
    """The refunds of a payment, for its payer or its merchant only."""
    get_payment(p, payment_id, party_id)
    with p.db_for(payment_id).read() as tx:
        return tx.all(
            "SELECT * FROM refunds WHERE payment_id = :p ORDER BY created_at_ms", {"p": payment_id}
        )


# --- reads ---------------------------------------------------------------------------------------
def balance(p: Platform, user_id: str) -> dict[str, int]:
    with p.db_for(user_id).read() as tx:
        row = tx.one(
            "SELECT balance_fen, hold_fen FROM accounts WHERE id = :id",
            {"id": user_account(user_id)},
        )
    bal, hold = (int(row["balance_fen"]), int(row["hold_fen"])) if row else (0, 0)
    return {"balance_fen": bal, "frozen_fen": hold, "available_fen": bal - hold}


def merchant_balance(p: Platform, merchant_id: str) -> dict[str, Any]:
    per_unit = []
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            per_unit.append(
                int(
                    tx.scalar(
                        "SELECT balance_fen FROM accounts WHERE id = :id",
                        {"id": members.merchant_account(merchant_id, unit)},
                    )
                    or 0
                )
            )
    return {"balance_fen": sum(per_unit), "by_unit_fen": per_unit}


def merchant_activity(p: Platform, merchant_id: str, limit: int = 100) -> list[Row]:
    with p.db_for(merchant_id).read() as tx:
        return tx.all(
            "SELECT * FROM merchant_activity WHERE merchant_id = :m"
            " ORDER BY at_ms DESC, ref_id DESC LIMIT :l",
            {"m": merchant_id, "l": limit},
        )
