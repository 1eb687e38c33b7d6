"""Trades in the style merchants know: create / precreate / pay / query / refund / close /
cancel, instant and secured (担保交易).

Routing (docs/decisions/0301-trade-routing.md): ``(merchant_id, out_trade_no)`` hashes to an
*order unit* holding a ``trade_orders`` row, which makes ``out_trade_no`` unique per merchant and
points to the trade. The trade itself lives in the *buyer's* unit, so every voucher of a trade
(payment, escrow, release, refunds) books in one unit. A precreated order has no buyer yet; the
first buyer who scans it is bound to it and the trade is opened in that buyer's unit.

Every change is a guarded state-machine move plus, when money moves, one balanced voucher, in
one unit-writer command.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from qianbao.channels.base import SUCCEEDED, UNKNOWN, ChannelTimeout
from qianbao.credit import service as huabei
from qianbao.credit.errors import InstallmentNotAllowed
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, open_account, post
from qianbao.marketing import service as marketing
from qianbao.members import service as members
from qianbao.openapi import notify
from qianbao.payments import codes, settlement
from qianbao.payments.limits import check_per_payment, count_daily
from qianbao.payments.service import check_amount, user_account
from qianbao.platform import idempotency
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidArgument,
    NotFound,
    QianbaoError,
)
from qianbao.platform.ids import bucket_for_key, bucket_of, new_id
from qianbao.platform.money import apply_rate, proportional_fen
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.trades")

INSTANT, SECURED = "INSTANT", "SECURED"
BALANCE, CARD, HUABEI = "BALANCE", "CARD", "HUABEI"
FUNDINGS = (BALANCE, CARD, HUABEI)
HUABEI_INSTALLMENTS = (3, 6, 12)  # purchase installment periods offered at the cashier
WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_FINISHED = "TRADE_FINISHED"
TRADE_CLOSED = "TRADE_CLOSED"
WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS"
WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS"
TRADE_DISPUTED = "TRADE_DISPUTED"
ESCROWED = (WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS, TRADE_DISPUTED)

INSTANT_TRADE = StateMachine(
    "trade",
    "trades",
    {
        WAIT_BUYER_PAY: {TRADE_SUCCESS, TRADE_CLOSED},
        TRADE_SUCCESS: {TRADE_SUCCESS, TRADE_CLOSED, TRADE_FINISHED},  # partial refund stays
    },
)
SECURED_TRADE = StateMachine(
    "secured trade",
    "trades",
    {
        WAIT_BUYER_PAY: {WAIT_SELLER_SEND_GOODS, TRADE_CLOSED},
        WAIT_SELLER_SEND_GOODS: {
            WAIT_SELLER_SEND_GOODS,
            WAIT_BUYER_CONFIRM_GOODS,
            TRADE_CLOSED,
            TRADE_DISPUTED,
        },
        WAIT_BUYER_CONFIRM_GOODS: {
            WAIT_BUYER_CONFIRM_GOODS,
            TRADE_FINISHED,
            TRADE_CLOSED,
            TRADE_DISPUTED,
        },
        TRADE_DISPUTED: {TRADE_FINISHED, TRADE_CLOSED},
    },
)
ORDER = StateMachine("trade order", "trade_orders", {"OPEN": {"BOUND", "CLOSED"}})

# Defaults; override with ``Settings.extra`` keys of the same name.
DEFAULTS: dict[str, int] = {
    "trade_auto_confirm_days": 10,
    "trade_refund_window_days": 90,
    "trade_timeout_max_minutes": 15 * 24 * 60,
}
DAY_MS = 86_400_000
JOB_BATCH_MAX = 500
OUT_NO_MAX_CHARS = 64


def setting(p: Platform, name: str) -> int:
    return int(p.settings.extra.get(name, DEFAULTS[name]))


def machine(trade: Row) -> StateMachine:
    return SECURED_TRADE if trade["product"] == SECURED else INSTANT_TRADE


class TradeError(Conflict):
    code = "TRADE_STATUS_ERROR"


def refuse(trade: Row, action: str) -> TradeError:
    """The named error for an action the trade's status does not allow."""
    status = trade["status"]
    code = {
        TRADE_CLOSED: "TRADE_HAS_CLOSED",
        TRADE_FINISHED: "TRADE_HAS_FINISHED",
        TRADE_SUCCESS: "TRADE_HAS_SUCCESS",
        TRADE_DISPUTED: "TRADE_IN_DISPUTE",
    }.get(status, "TRADE_STATUS_ERROR")
    return TradeError(f"cannot {action} a trade in status {status}", code=code)


# --- requests -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TradeRequest:
    merchant_id: str
    out_trade_no: str
    subject: str
    total_amount_fen: int
    product: str = INSTANT
    timeout_minutes: int | None = None
    app_id: str = ""
    notify_url: str = ""

    def fingerprint(self, buyer_id: str | None) -> str:
        body = {**asdict(self), "buyer_id": buyer_id}
        body.pop("app_id")
        body.pop("notify_url")
        return idempotency.request_hash(body)


def _check_request(p: Platform, req: TradeRequest) -> None:
    check_amount(p, req.total_amount_fen)
    idempotency.check_key(req.out_trade_no)
    if not req.subject.strip() or len(req.subject) > 128:
        raise InvalidArgument("subject must be 1–128 characters", code="SUBJECT_INVALID")
    if req.product not in (INSTANT, SECURED):
        raise InvalidArgument("product must be INSTANT or SECURED", code="PRODUCT_INVALID")
    limit = setting(p, "trade_timeout_max_minutes")
    if req.timeout_minutes is not None and not 1 <= req.timeout_minutes <= limit:
        raise InvalidArgument(f"timeout must be 1–{limit} minutes", code="TIMEOUT_INVALID")
    if len(req.notify_url) > 256:
        raise InvalidArgument("notify_url too long", code="NOTIFY_URL_INVALID")
    merchant = members.get_merchant_cached(p, req.merchant_id)
    if merchant["status"] != "ACTIVE":
        raise Forbidden("merchant is not active", code="MERCHANT_FROZEN")


def order_bucket(merchant_id: str, out_trade_no: str) -> int:
    return bucket_for_key(f"{merchant_id}|{out_trade_no}")


def _order_unit(p: Platform, merchant_id: str, out_trade_no: str) -> int:
    return p.unit_of_bucket(order_bucket(merchant_id, out_trade_no))


def _load(tx: Tx, table: str, row_id: str) -> Row:
    row = tx.one(f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
    if row is None:
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")
    return dict(row)


# --- orders (routing and out_trade_no uniqueness) --------------------------------------------
def _open_order(p: Platform, req: TradeRequest, buyer_id: str | None) -> Row:
    """Claim ``out_trade_no`` in its order unit; the same request again returns the first order."""
    bucket = order_bucket(req.merchant_id, req.out_trade_no)
    order_id = new_id(bucket)
    digest = req.fingerprint(buyer_id)
    now = clock.now_ms()
    timeout_at = now + req.timeout_minutes * 60_000 if req.timeout_minutes else None

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        old = tx.one(
            "SELECT * FROM trade_orders WHERE merchant_id = :m AND out_trade_no = :o",
            {"m": req.merchant_id, "o": req.out_trade_no},
        )
        if old is not None:
            if old["request_hash"] != digest:
                raise IdempotencyKeyReused(
                    f"out_trade_no {req.out_trade_no!r} was used for another trade",
                    code="OUT_TRADE_NO_USED",
                )
            return dict(old)
        trade_id = new_id(bucket_of(buyer_id)) if buyer_id else None
        tx.execute(
            "INSERT INTO trade_orders (id, merchant_id, out_trade_no, request_hash, product,"
            " subject, total_amount_fen, timeout_at_ms, app_id, notify_url, trade_id, buyer_id,"
            " status, created_at_ms, updated_at_ms) VALUES (:id, :m, :o, :h, :prod, :s, :a, :t,"
            " :app, :url, :trade, :buyer, :st, :now, :now)",
            {
                "id": order_id,
                "m": req.merchant_id,
                "o": req.out_trade_no,
                "h": digest,
                "prod": req.product,
                "s": req.subject.strip(),
                "a": req.total_amount_fen,
                "t": timeout_at,
                "app": req.app_id,
                "url": req.notify_url,
                "trade": trade_id,
                "buyer": buyer_id,
                "st": "BOUND" if buyer_id else "OPEN",
                "now": now,
            },
        )
        return _load(tx, "trade_orders", order_id)

    return p.writers[p.unit_of_bucket(bucket)].submit(command)


def _ensure_trade(p: Platform, order: Row) -> Row:
    """Open the trade of a bound order in the buyer's unit (idempotent: heals a half-done bind)."""
    trade_id = order["trade_id"]
    assert trade_id and order["buyer_id"]

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        now = clock.now_ms()
        tx.execute(
            "INSERT INTO trades (id, order_id, merchant_id, out_trade_no, buyer_id, product,"
            " subject, total_amount_fen, fee_fen, refunded_fen, fee_refunded_fen, released_fen,"
            " funding, status, timeout_at_ms, app_id, notify_url, created_at_ms, updated_at_ms)"
            " VALUES (:id, :oid, :m, :o, :b, :prod, :s, :a, 0, 0, 0, 0, '', :st, :t, :app, :url,"
            " :now, :now) ON CONFLICT (id) DO NOTHING",
            {
                "id": trade_id,
                "oid": order["id"],
                "m": order["merchant_id"],
                "o": order["out_trade_no"],
                "b": order["buyer_id"],
                "prod": order["product"],
                "s": order["subject"],
                "a": order["total_amount_fen"],
                "st": WAIT_BUYER_PAY,
                "t": order["timeout_at_ms"],
                "app": order["app_id"],
                "url": order["notify_url"],
                "now": now,
            },
        )
        return _load(tx, "trades", trade_id)

    return p.writer_for(trade_id).submit(command)


def create(p: Platform, req: TradeRequest, buyer_id: str) -> Row:
    """A trade for a known buyer, waiting for the buyer to pay (at the cashier or by code)."""
    _check_request(p, req)
    members.get_user(p, buyer_id)
    order = _open_order(p, req, buyer_id)
    return _ensure_trade(p, order)


def precreate(p: Platform, req: TradeRequest) -> Row:
    """An order with a dynamic QR; the first buyer to scan it is bound to it."""
    _check_request(p, req)
    order = _open_order(p, req, None)
    return {**order, "qr_code": codes.order_qr_content(p, order["id"])}


def get_order(p: Platform, order_id: str) -> Row:
    try:
        db = p.db_for(order_id)
    except ValueError:
        raise NotFound("no such order", code="TRADE_NOT_EXIST") from None
    with db.read() as tx:
        row = tx.one("SELECT * FROM trade_orders WHERE id = :id", {"id": order_id})
    if row is None:
        raise NotFound("no such order", code="TRADE_NOT_EXIST")
    return dict(row)


def bind_buyer(p: Platform, order_id: str, buyer_id: str) -> Row:
    """A buyer scanned a precreated order: bind the buyer and open the trade in its unit."""
    order = get_order(p, order_id)
    members.get_user(p, buyer_id)
    trade_id = new_id(bucket_of(buyer_id))

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        o = _load(tx, "trade_orders", order_id)
        if o["status"] == "CLOSED":
            raise TradeError("the trade has closed", code="TRADE_HAS_CLOSED")
        if o["status"] == "BOUND":
            if o["buyer_id"] != buyer_id:
                raise Forbidden("another buyer is paying this trade", code="TRADE_BUYER_NOT_MATCH")
            return o
        if o["timeout_at_ms"] is not None and o["timeout_at_ms"] <= clock.now_ms():
            raise TradeError("the trade has timed out", code="TRADE_HAS_CLOSED")
        ORDER.move(tx, order_id, "OPEN", "BOUND", trade_id=trade_id, buyer_id=buyer_id)
        return _load(tx, "trade_orders", order_id)

    bound = p.writers[p.unit_of(order["id"])].submit(command)
    return _ensure_trade(p, bound)


# --- reads ----------------------------------------------------------------------------------------
def get_trade(p: Platform, trade_id: str) -> Row:
    try:
        db = p.db_for(trade_id)
    except ValueError:
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST") from None
    with db.read() as tx:
        row = tx.one("SELECT * FROM trades WHERE id = :id", {"id": trade_id})
    if row is None:
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")
    return dict(row)


def find_order(p: Platform, merchant_id: str, out_trade_no: str) -> Row:
    idempotency.check_key(out_trade_no)
    with p.units[_order_unit(p, merchant_id, out_trade_no)].read() as tx:
        row = tx.one(
            "SELECT * FROM trade_orders WHERE merchant_id = :m AND out_trade_no = :o",
            {"m": merchant_id, "o": out_trade_no},
        )
    if row is None:
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")
    return dict(row)


def lookup(
    p: Platform, merchant_id: str, *, trade_no: str | None = None, out_trade_no: str | None = None
) -> Row:
    """The merchant's trade by ``trade_no`` or ``out_trade_no``. An unbound precreated order is
    returned as a trade-shaped row without an id (status WAIT_BUYER_PAY or TRADE_CLOSED)."""
    if trade_no:
        trade = get_trade(p, trade_no)
        if trade["merchant_id"] != merchant_id:
            raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")
        return trade
    if not out_trade_no:
        raise InvalidArgument("trade_no or out_trade_no is required", code="MISSING_TRADE_NO")
    order = find_order(p, merchant_id, out_trade_no)
    if order["trade_id"]:
        return _ensure_trade(p, order)
    return {
        "id": None,
        "order_id": order["id"],
        "merchant_id": merchant_id,
        "out_trade_no": out_trade_no,
        "buyer_id": None,
        "product": order["product"],
        "subject": order["subject"],
        "total_amount_fen": order["total_amount_fen"],
        "fee_fen": 0,
        "refunded_fen": 0,
        "fee_refunded_fen": 0,
        "released_fen": 0,
        "funding": "",
        "status": WAIT_BUYER_PAY if order["status"] == "OPEN" else TRADE_CLOSED,
        "timeout_at_ms": order["timeout_at_ms"],
        "paid_at_ms": None,
        "shipped_at_ms": None,
        "auto_confirm_at_ms": None,
        "ended_at_ms": None,
        "created_at_ms": order["created_at_ms"],
        "updated_at_ms": order["updated_at_ms"],
        "app_id": order["app_id"],
        "notify_url": order["notify_url"],
    }


def public_trade(t: Row) -> dict[str, Any]:
    return {
        "trade_no": t["id"],
        "out_trade_no": t["out_trade_no"],
        "merchant_id": t["merchant_id"],
        "buyer_id": t["buyer_id"],
        "product": t["product"],
        "subject": t["subject"],
        "trade_status": t["status"],
        "total_amount_fen": t["total_amount_fen"],
        "fee_fen": t["fee_fen"],
        "refunded_fen": t["refunded_fen"],
        "released_fen": t["released_fen"],
        "funding": t["funding"],
        "coupon_id": t.get("coupon_id"),
        "coupon_fen": t.get("coupon_fen", 0),
        "created_at_ms": t["created_at_ms"],
        "paid_at_ms": t["paid_at_ms"],
        "shipped_at_ms": t["shipped_at_ms"],
        "auto_confirm_at_ms": t["auto_confirm_at_ms"],
    }


def list_refunds(p: Platform, trade_id: str) -> list[Row]:
    with p.db_for(trade_id).read() as tx:
        return [
            dict(r)
            for r in tx.all(
                "SELECT * FROM trade_refunds WHERE trade_id = :t ORDER BY created_at_ms, id",
                {"t": trade_id},
            )
        ]


def list_merchant_trades(p: Platform, merchant_id: str, limit: int = 100) -> list[Row]:
    """A merchant's newest trades across every unit."""
    rows: list[Row] = []
    for db in p.units:
        with db.read() as tx:
            rows += [
                dict(r)
                for r in tx.all(
                    "SELECT * FROM trades WHERE merchant_id = :m"
                    " ORDER BY created_at_ms DESC LIMIT :l",
                    {"m": merchant_id, "l": limit},
                )
            ]
    return sorted(rows, key=lambda r: (r["created_at_ms"], r["id"]), reverse=True)[:limit]


def list_buyer_trades(p: Platform, buyer_id: str, limit: int = 50) -> list[Row]:
    with p.db_for(buyer_id).read() as tx:
        return [
            dict(r)
            for r in tx.all(
                "SELECT * FROM trades WHERE buyer_id = :b ORDER BY created_at_ms DESC LIMIT :l",
                {"b": buyer_id, "l": limit},
            )
        ]


# --- paying ---------------------------------------------------------------------------------------
def _check_payable(trade: Row) -> None:
    if trade["status"] != WAIT_BUYER_PAY:
        raise refuse(trade, "pay")
    if trade["timeout_at_ms"] is not None and trade["timeout_at_ms"] <= clock.now_ms():
        raise TradeError("the trade has timed out", code="TRADE_HAS_CLOSED")


def _charge_card(p: Platform, card: Row, ref: str, amount_fen: int) -> None:
    """Quick pay: take the money from the card first; only a confirmed charge goes on."""
    channel = p.channels[card["channel"]]
    try:
        outcome = channel.charge(ref, card["card_no"], amount_fen)
    except ChannelTimeout:
        outcome = channel.query(ref)  # UNKNOWN means the bank never got it: nothing moved
    if outcome != SUCCEEDED:
        raise QianbaoError("the bank declined the card payment", code="CARD_CHARGE_FAILED")


def _reverse_card(p: Platform, card: Row, ref: str, amount_fen: int) -> None:
    """The trade refused a charged payment: send the money straight back to the card."""
    channel = p.channels[card["channel"]]
    try:
        outcome = channel.payout(ref + "R", card["card_no"], amount_fen)
    except ChannelTimeout:
        outcome = UNKNOWN
    if outcome != SUCCEEDED:  # the bank keeps the request id; an operator re-drives it
        log.error("card reversal %sR for %s fen not confirmed: %s", ref, amount_fen, outcome)


def pay(
    p: Platform,
    trade_id: str,
    buyer_id: str,
    pay_password: str | None,
    *,
    funding: str = BALANCE,
    card_id: str | None = None,
    auth_code: str | None = None,
    installments: int | None = None,
    subsidised: bool = False,
    coupon_id: str | None = None,
) -> Row:
    """The buyer pays: balance, a bound card (quick pay) or Huabei. Instant trades credit the
    merchant minus its fee; secured trades put the money into escrow. Nothing moves unless all
    of it does.

    Huabei (花呗) takes the buyer's credit line inside the same command and voucher: the
    receivable is debited instead of the wallet. ``installments`` (3/6/12) makes an instant
    trade a purchase installment plan; ``subsidised`` (a server-side choice of the merchant,
    never the buyer's) has the merchant pay that plan's fee out of its proceeds. A secured
    trade's purchase stays off the bills until the buyer confirms receipt.

    ``coupon_id``: one coupon with the funding source (instant trades). The buyer pays the amount
    minus its face value; a platform coupon pays the rest from marketing expense (the merchant
    gets the full amount minus its fee), a merchant coupon is a discount (the merchant gets
    the paid amount minus the fee on it). The coupon turns USED in the same command.
    """
    trade = get_trade(p, trade_id)
    if trade["buyer_id"] != buyer_id:
        raise Forbidden("this trade belongs to another buyer", code="TRADE_BUYER_NOT_MATCH")
    _check_payable(trade)
    _check_funding(trade, funding, installments, subsidised)
    subsidised = subsidised or huabei.offer_subsidises(p, trade, funding, installments)
    amount = int(trade["total_amount_fen"])
    merchant = members.get_merchant_cached(p, trade["merchant_id"])
    if merchant["status"] != "ACTIVE":
        raise Forbidden("merchant is not active", code="MERCHANT_FROZEN")
    coupon_fen, funder = 0, ""
    if coupon_id is not None:
        if trade["product"] != INSTANT:
            raise InvalidArgument(
                "coupons apply to instant trades only", code="COUPON_NOT_APPLICABLE"
            )
        coupon = marketing.peek(p, coupon_id, buyer_id, trade["merchant_id"], amount)
        coupon_fen, funder = int(coupon["face_fen"]), str(coupon["funder"])
    pays = amount - coupon_fen  # what the buyer's funding source pays
    merchant_gross = pays if funder == marketing.MERCHANT else amount
    payer = members.authorize_payment(p, buyer_id, pays, pay_password)
    limits = check_per_payment(payer["kyc_level"], pays)
    rate = Decimal(merchant["fee_rate"])
    fee = apply_rate(merchant_gross, rate) if trade["product"] == INSTANT else 0
    card = members.get_card(p, buyer_id, card_id or "") if funding == CARD else None
    charge_ref = f"T{trade_id}{new_id(bucket_of(trade_id))[-8:]}"
    if card is not None:
        _charge_card(p, card, charge_ref, pays)

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        t = _load(tx, "trades", trade_id)
        _check_payable(t)
        if auth_code:
            codes.use_code(ctx, auth_code, buyer_id, trade_id)
        if coupon_id is not None:
            marketing.take(ctx, coupon_id, buyer_id, t["merchant_id"], amount, trade_id)
        count_daily(ctx, buyer_id, pays, limits)
        merchant_pays = 0  # a subsidised installment fee, out of the merchant's proceeds
        if funding == HUABEI:
            charge = huabei.charge_huabei(
                ctx,
                buyer_id,
                pays,
                trade_id,
                merchant_id=t["merchant_id"],
                merchant_fee_fen=fee,
                deferred=t["product"] == SECURED,
                installments=installments,
                subsidised=subsidised,
            )
            source_legs = charge.legs
            merchant_pays = charge.merchant_pays_fen
        elif card is not None:
            source_legs = [debit(unit_account("bank_reserve", ctx.unit, card["channel"]), pays)]
        else:
            source_legs = [debit(user_account(buyer_id), pays)]
        source_legs += marketing.funder_legs(ctx, funder, coupon_fen, back=False)
        if t["product"] == SECURED:
            escrow = unit_account("escrow", ctx.unit)
            open_account(tx, escrow, f"u{ctx.unit}")
            legs = [*source_legs, credit(escrow, amount)]
            target = WAIT_SELLER_SEND_GOODS
        else:
            legs = [
                *source_legs,
                *settlement.book_in(ctx, t["merchant_id"], merchant_gross, fee + merchant_pays),
                credit(unit_account("fee_income", ctx.unit), fee),
            ]
            target = TRADE_SUCCESS
        post(ctx, "trade.pay", trade_id, legs, memo=funding)
        machine(t).move(
            tx,
            trade_id,
            WAIT_BUYER_PAY,
            target,
            fee_fen=fee,
            subsidy_fen=merchant_pays,
            funding=funding,
            card_id=card["id"] if card is not None else None,
            coupon_id=coupon_id,
            coupon_fen=coupon_fen,
            coupon_funder=funder,
            paid_at_ms=clock.now_ms(),
        )
        paid = _load(tx, "trades", trade_id)
        notify.enqueue(ctx, paid, "TRADE_PAID")
        return paid

    try:
        return p.writer_for(trade_id).submit(command)
    except QianbaoError:
        if card is not None:
            _reverse_card(p, card, charge_ref, pays)
        raise


def _check_funding(trade: Row, funding: str, installments: int | None, subsidised: bool) -> None:
    if funding not in FUNDINGS:
        raise InvalidArgument("funding must be BALANCE, CARD or HUABEI", code="FUNDING_INVALID")
    if installments is None:
        if subsidised:
            raise InvalidArgument(
                "only an installment plan can be subsidised", code="INSTALLMENTS_INVALID"
            )
        return
    if funding != HUABEI or installments not in HUABEI_INSTALLMENTS:
        raise InvalidArgument(
            f"installments must be one of {HUABEI_INSTALLMENTS}, with Huabei",
            code="INSTALLMENTS_INVALID",
        )
    if trade["product"] == SECURED:
        raise InstallmentNotAllowed("a secured trade cannot be split at the cashier")


def pay_by_code(p: Platform, req: TradeRequest, auth_code: str) -> Row:
    """付款码: a merchant till scanned the buyer's code. Creates the trade for that buyer and
    pays it from what the code draws on (balance or Huabei, the buyer's choice; a merchant's
    subsidised installment offer applies to Huabei), password-free within the buyer's limit.
    Above it the trade stays WAIT_BUYER_PAY for the buyer to confirm with the password, and the
    code stays unused."""
    buyer_id = codes.buyer_of_code(p, auth_code)
    funding = codes.funding_of_code(p, auth_code)  # the buyer's choice: balance or Huabei
    trade = create(p, req, buyer_id)
    if trade["status"] != WAIT_BUYER_PAY:
        return trade  # the same out_trade_no again: the first outcome
    try:
        n = huabei.code_installments(p, trade, funding)
        return pay(
            p, trade["id"], buyer_id, None, auth_code=auth_code, funding=funding, installments=n
        )
    except QianbaoError as exc:
        if exc.code == "PAY_PASSWORD_REQUIRED":
            return trade
        raise


def pay_static_qr(
    p: Platform,
    merchant_id: str,
    buyer_id: str,
    amount_fen: int,
    pay_password: str | None,
    request_id: str,
    *,
    funding: str = BALANCE,
    card_id: str | None = None,
    installments: int | None = None,
    coupon_id: str | None = None,
) -> Row:
    """The buyer scanned the merchant's static QR and typed the amount: one instant trade."""
    idempotency.check_key(request_id)
    merchant = members.get_merchant_cached(p, merchant_id)
    digest = hashlib.sha256(f"{buyer_id}|{request_id}".encode()).hexdigest()[:30]
    req = TradeRequest(
        merchant_id, f"QR{digest}", f"{merchant['name']} 扫码付款", amount_fen, timeout_minutes=15
    )
    trade = create(p, req, buyer_id)
    if trade["status"] != WAIT_BUYER_PAY:
        return trade
    return pay(
        p,
        trade["id"],
        buyer_id,
        pay_password,
        funding=funding,
        card_id=card_id,
        installments=installments,
        coupon_id=coupon_id,
    )


# --- refunds --------------------------------------------------------------------------------------
def _refund_in(
    ctx: WriteContext,
    t: Row,
    refund_id: str,
    amount_fen: int,
    out_request_no: str,
    reason: str,
    kind: str = "REFUND",
) -> Row:
    """Book one refund inside a command and move the trade; returns the refund row.

    Instant: from the merchant's account, the fee coming back in proportion. Secured before
    release: from escrow, no fee was taken. The money goes back where it came from: the balance,
    or for card-funded trades the bank reserve (the card is paid out by the bank), or for
    Huabei-funded trades the credit line (``restore_huabei``: what the buyer owes shrinks, and
    anything already repaid goes to the wallet; a subsidised installment fee goes back to the
    merchant).
    """
    tx = ctx.tx
    refundable = t["total_amount_fen"] - t["refunded_fen"]
    if amount_fen > refundable:
        raise InvalidArgument(
            f"only {refundable} fen can still be refunded", code="REFUND_AMOUNT_EXCEEDED"
        )
    coupon_back = 0  # the coupon's share of the refund goes back to whoever funded the coupon
    if t["coupon_fen"]:
        coupon_back = proportional_fen(
            t["coupon_fen"], t["coupon_refunded_fen"], amount_fen, t["total_amount_fen"]
        )
    buyer_back = amount_fen - coupon_back
    back_legs, merchant_back = _buyer_back(ctx, t, buyer_back, refund_id)
    back_legs += marketing.funder_legs(ctx, t["coupon_funder"], coupon_back, back=True)
    merchant_gross = amount_fen - (coupon_back if t["coupon_funder"] == marketing.MERCHANT else 0)
    fee_back = 0
    if t["product"] == SECURED:
        legs = [debit(unit_account("escrow", ctx.unit), amount_fen), *back_legs]
    else:
        fee_back = proportional_fen(
            t["fee_fen"], t["refunded_fen"], amount_fen, t["total_amount_fen"]
        )
        legs = [
            *settlement.book_out(ctx, t["merchant_id"], merchant_gross, fee_back + merchant_back),
            debit(unit_account("fee_income", ctx.unit), fee_back),
            *back_legs,
        ]
    post(ctx, "trade.refund", refund_id, legs, memo=t["id"])
    refunded = t["refunded_fen"] + amount_fen
    target = TRADE_CLOSED if refunded == t["total_amount_fen"] else t["status"]
    if t["status"] == TRADE_DISPUTED and target != TRADE_CLOSED:
        target = TRADE_DISPUTED  # a split keeps the trade frozen until the release that follows
    cols: dict[str, Any] = {
        "refunded_fen": refunded,
        "fee_refunded_fen": t["fee_refunded_fen"] + fee_back,
        "subsidy_refunded_fen": t["subsidy_refunded_fen"] + merchant_back,
        "coupon_refunded_fen": t["coupon_refunded_fen"] + coupon_back,
    }
    if target == TRADE_CLOSED:
        cols["ended_at_ms"] = clock.now_ms()
        if t["coupon_id"]:
            marketing.give_back(ctx, t["coupon_id"])
    if target != t["status"]:
        machine(t).move(tx, t["id"], t["status"], target, **cols)
    else:
        tx.execute(
            "UPDATE trades SET refunded_fen = :r, fee_refunded_fen = :f,"
            " subsidy_refunded_fen = :sub, coupon_refunded_fen = :cb, updated_at_ms = :now"
            " WHERE id = :id AND status = :s",
            {
                "r": refunded,
                "f": cols["fee_refunded_fen"],
                "sub": cols["subsidy_refunded_fen"],
                "cb": cols["coupon_refunded_fen"],
                "now": clock.now_ms(),
                "id": t["id"],
                "s": t["status"],
            },
        )
    now = clock.now_ms()
    tx.execute(
        "INSERT INTO trade_refunds (id, trade_id, merchant_id, out_request_no, kind, amount_fen,"
        " fee_refund_fen, subsidy_refund_fen, coupon_refund_fen, reason, status, created_at_ms,"
        " updated_at_ms) VALUES (:id, :t, :m, :o, :k, :a, :f, :sub, :cb, :r, 'SUCCEEDED', :now,"
        " :now)",
        {
            "id": refund_id,
            "t": t["id"],
            "m": t["merchant_id"],
            "o": out_request_no,
            "k": kind,
            "a": amount_fen,
            "f": fee_back,
            "sub": merchant_back,
            "cb": coupon_back,
            "r": reason[:100],
            "now": now,
        },
    )
    after = _load(tx, "trades", t["id"])
    notify.enqueue(
        ctx, after, "REFUND", {"out_biz_no": out_request_no, "refund_amount_fen": amount_fen}
    )
    return _load(tx, "trade_refunds", refund_id)


def _buyer_back(
    ctx: WriteContext, t: Row, amount_fen: int, refund_id: str
) -> tuple[list[Any], int]:
    """The legs returning the buyer's part of a refund where it came from (balance, the bank
    reserve for a card, or the Huabei line), and what a subsidised installment fee gives back to
    the merchant."""
    if not amount_fen:  # a coupon covered the whole refund
        return [], 0
    if t["funding"] == HUABEI:
        restored = huabei.restore_huabei(ctx, t["id"], amount_fen, refund_id)
        return restored.legs, restored.merchant_back_fen
    if t["funding"] == CARD:
        channel = _card_channel(ctx.platform, t)
        return [credit(unit_account("bank_reserve", ctx.unit, channel), amount_fen)], 0
    return [credit(user_account(t["buyer_id"]), amount_fen)], 0


def _card_channel(p: Platform, t: Row) -> str:
    card = members.get_card(p, t["buyer_id"], t["card_id"] or "")
    return str(card["channel"])


def _pay_out_card_refund(p: Platform, t: Row, refund: Row) -> None:
    """Card-funded refunds were booked to the bank reserve; the bank now pays the card."""
    to_card = refund["amount_fen"] - refund["coupon_refund_fen"]  # a coupon's share went back
    if not to_card:
        return
    card = members.get_card(p, t["buyer_id"], t["card_id"] or "")
    channel = p.channels[card["channel"]]
    try:
        outcome = channel.payout(f"R{refund['id']}", card["card_no"], to_card)
    except ChannelTimeout:
        outcome = UNKNOWN
    if outcome != SUCCEEDED:
        log.error("card refund %s not confirmed by the bank: %s", refund["id"], outcome)


_REFUNDABLE = {TRADE_SUCCESS, WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS}


def refund(
    p: Platform,
    merchant_id: str,
    amount_fen: int,
    out_request_no: str,
    *,
    trade_no: str | None = None,
    out_trade_no: str | None = None,
    reason: str = "",
) -> Row:
    """Full or partial refund, each with its own ``out_request_no`` (idempotent).

    Secured trades: before shipping, or after shipping when the seller agrees (the seller is the
    one calling). Disputed trades are frozen; only an operator decides them.
    """
    check_amount(p, amount_fen)
    idempotency.check_key(out_request_no)
    trade = lookup(p, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no)
    if trade["id"] is None:
        raise refuse(trade, "refund")
    trade_id = str(trade["id"])
    refund_id = new_id(bucket_of(trade_id))
    request = {"amount_fen": amount_fen, "reason": reason}

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        first = idempotency.claim(
            tx, f"trade-refund:{trade_id}", out_request_no, request, refund_id
        )
        if first is not None:
            return _load(tx, "trade_refunds", first)
        t = _load(tx, "trades", trade_id)
        if t["status"] not in _REFUNDABLE:
            raise refuse(t, "refund")
        return _refund_in(ctx, t, refund_id, amount_fen, out_request_no, reason)

    row = p.writer_for(trade_id).submit(command)
    if row["id"] == refund_id and trade["funding"] == CARD:
        _pay_out_card_refund(p, trade, row)
    return row


# --- close and cancel -----------------------------------------------------------------------------
def _close_trade_cmd(trade_id: str, reason: str) -> Any:
    def command(ctx: WriteContext) -> Row:
        t = _load(ctx.tx, "trades", trade_id)
        if t["status"] == TRADE_CLOSED and reason != "merchant":
            return t
        if t["status"] != WAIT_BUYER_PAY:
            raise refuse(t, "close")
        machine(t).move(ctx.tx, trade_id, WAIT_BUYER_PAY, TRADE_CLOSED, ended_at_ms=clock.now_ms())
        closed = _load(ctx.tx, "trades", trade_id)
        notify.enqueue(ctx, closed, "TRADE_CLOSED")
        return closed

    return command


def _close_order_cmd(order_id: str) -> Any:
    def command(ctx: WriteContext) -> Row:
        o = _load(ctx.tx, "trade_orders", order_id)
        if o["status"] == "OPEN":
            ORDER.move(ctx.tx, order_id, "OPEN", "CLOSED")
        return _load(ctx.tx, "trade_orders", order_id)

    return command


def close(
    p: Platform, merchant_id: str, *, trade_no: str | None = None, out_trade_no: str | None = None
) -> Row:
    """The merchant closes an unpaid trade (a paid one must be refunded instead)."""
    trade = lookup(p, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no)
    if trade["id"] is None:
        order = p.writers[p.unit_of(trade["order_id"])].submit(_close_order_cmd(trade["order_id"]))
        if order["status"] == "CLOSED":
            return lookup(p, merchant_id, out_trade_no=order["out_trade_no"])
        trade = _ensure_trade(p, order)  # a buyer was bound meanwhile: close that trade
    return p.writer_for(trade["id"]).submit(_close_trade_cmd(trade["id"], "merchant"))


def cancel(
    p: Platform, merchant_id: str, *, trade_no: str | None = None, out_trade_no: str | None = None
) -> tuple[Row, str]:
    """撤销: undo whatever happened: close if unpaid, refund in full if paid (instant, or
    secured not yet shipped). Returns the trade and the action, "close" or "refund"."""
    trade = lookup(p, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no)
    if trade["status"] == WAIT_BUYER_PAY:
        try:
            return close(p, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no), "close"
        except TradeError:
            trade = lookup(p, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no)
    if trade["status"] == TRADE_CLOSED:
        return trade, "close" if not trade["refunded_fen"] else "refund"
    if trade["status"] not in (TRADE_SUCCESS, WAIT_SELLER_SEND_GOODS):
        raise refuse(trade, "cancel")
    left = trade["total_amount_fen"] - trade["refunded_fen"]
    refund(p, merchant_id, left, "CANCEL", trade_no=trade["id"], reason="cancel")
    return get_trade(p, str(trade["id"])), "refund"


# --- secured trades: ship, confirm, release, disputes, compensation ---------------------------
def _release_in(ctx: WriteContext, t: Row, seller_fen: int) -> Row:
    """Pay ``seller_fen`` from escrow to the seller minus the contract fee; the trade finishes.
    A Huabei-funded trade's purchase enters the bill of the month it is released in."""
    merchant = members.get_merchant_cached(ctx.platform, t["merchant_id"])
    if t["funding"] == HUABEI:
        huabei.confirm_huabei(ctx, t["id"])
    fee = apply_rate(seller_fen, Decimal(merchant["fee_rate"]))
    post(
        ctx,
        "trade.release",
        t["id"],
        [
            debit(unit_account("escrow", ctx.unit), seller_fen),
            *settlement.book_in(ctx, t["merchant_id"], seller_fen, fee),
            credit(unit_account("fee_income", ctx.unit), fee),
        ],
    )
    machine(t).move(
        ctx.tx,
        t["id"],
        t["status"],
        TRADE_FINISHED,
        released_fen=seller_fen,
        fee_fen=fee,
        ended_at_ms=clock.now_ms(),
    )
    done = _load(ctx.tx, "trades", t["id"])
    notify.enqueue(ctx, done, "TRADE_FINISHED")
    return done


def _secured_cmd(p: Platform, trade_id: str, action: str, body: Any) -> Row:
    def command(ctx: WriteContext) -> Row:
        t = _load(ctx.tx, "trades", trade_id)
        if t["product"] != SECURED:
            raise TradeError("only secured trades can " + action, code="TRADE_NOT_SECURED")
        result: Row = body(ctx, t)
        return result

    return p.writer_for(trade_id).submit(command)


def ship(p: Platform, merchant_id: str, trade_id: str) -> Row:
    """The seller shipped: the buyer is asked to confirm; auto-confirm is scheduled."""
    trade = get_trade(p, trade_id)
    if trade["merchant_id"] != merchant_id:
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")
    days = setting(p, "trade_auto_confirm_days")

    def body(ctx: WriteContext, t: Row) -> Row:
        if t["status"] != WAIT_SELLER_SEND_GOODS:
            raise refuse(t, "ship")
        now = clock.now_ms()
        SECURED_TRADE.move(
            ctx.tx,
            trade_id,
            t["status"],
            WAIT_BUYER_CONFIRM_GOODS,
            shipped_at_ms=now,
            auto_confirm_at_ms=now + days * DAY_MS,
        )
        return _load(ctx.tx, "trades", trade_id)

    return _secured_cmd(p, trade_id, "ship", body)


def confirm_receipt(p: Platform, buyer_id: str, trade_id: str, pay_password: str) -> Row:
    """The buyer confirms receipt (with the payment password): the seller is paid."""
    trade = get_trade(p, trade_id)
    if trade["buyer_id"] != buyer_id:
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")
    members.authorize_payment(p, buyer_id, trade["total_amount_fen"], pay_password)

    def body(ctx: WriteContext, t: Row) -> Row:
        if t["status"] != WAIT_BUYER_CONFIRM_GOODS:
            raise refuse(t, "confirm receipt of")
        return _release_in(ctx, t, t["total_amount_fen"] - t["refunded_fen"])

    return _secured_cmd(p, trade_id, "confirm", body)


def open_dispute(p: Platform, party_id: str, trade_id: str, reason: str = "") -> Row:
    """Buyer or seller disputes a paid secured trade: it freezes until an operator decides."""
    trade = get_trade(p, trade_id)
    if party_id not in (trade["buyer_id"], trade["merchant_id"]):
        raise NotFound("trade does not exist", code="TRADE_NOT_EXIST")

    def body(ctx: WriteContext, t: Row) -> Row:
        if t["status"] not in (WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS):
            raise refuse(t, "dispute")
        SECURED_TRADE.move(ctx.tx, trade_id, t["status"], TRADE_DISPUTED, dispute_from=t["status"])
        return _load(ctx.tx, "trades", trade_id)

    return _secured_cmd(p, trade_id, "dispute", body)


def resolve_dispute(
    p: Platform, operator_id: str, trade_id: str, decision: str, buyer_fen: int = 0, note: str = ""
) -> Row:
    """The operator decides: ``release`` to the seller, ``refund`` to the buyer, or ``split``
    (``buyer_fen`` back to the buyer, the rest released to the seller minus the fee)."""
    if decision not in ("release", "refund", "split"):
        raise InvalidArgument("decision must be release, refund or split", code="DECISION_INVALID")
    refund_id = new_id(bucket_of(trade_id))

    def body(ctx: WriteContext, t: Row) -> Row:
        if t["status"] != TRADE_DISPUTED:
            raise refuse(t, "resolve a dispute on")
        left = t["total_amount_fen"] - t["refunded_fen"]
        back = {"release": 0, "refund": left, "split": buyer_fen}[decision]
        if not 0 <= back <= left or (decision == "split" and not 0 < back < left):
            raise InvalidArgument(
                f"the buyer's part must be within 1–{left - 1} fen", code="SPLIT_INVALID"
            )
        if back:
            _refund_in(
                ctx,
                t,
                refund_id,
                back,
                f"DISPUTE-{operator_id}"[:64],
                f"dispute {decision} {note}",
                kind="DISPUTE_REFUND",
            )
            t = _load(ctx.tx, "trades", trade_id)
        if t["status"] == TRADE_CLOSED:
            return t
        return _release_in(ctx, t, left - back)

    return _secured_cmd(p, trade_id, "resolve", body)


def compensate(p: Platform, operator_id: str, trade_id: str, amount_fen: int, reason: str) -> Row:
    """全额赔付: a proven fraud loss on a trade is paid to the buyer from the platform's
    compensation expense (once per trade, at most the trade amount)."""
    check_amount(p, amount_fen)
    if not reason.strip():
        raise InvalidArgument("a compensation needs its reason", code="REASON_REQUIRED")
    comp_id = new_id(bucket_of(trade_id))

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        t = _load(tx, "trades", trade_id)
        if t["paid_at_ms"] is None:
            raise refuse(t, "compensate")
        if amount_fen > t["total_amount_fen"]:
            raise InvalidArgument(
                "compensation above the trade amount", code="COMPENSATION_EXCEEDED"
            )
        if tx.one("SELECT 1 AS x FROM trade_compensations WHERE trade_id = :t", {"t": trade_id}):
            raise Conflict("this trade was already compensated", code="ALREADY_COMPENSATED")
        expense = unit_account("compensation_expense", ctx.unit)
        open_account(tx, expense, f"u{ctx.unit}")
        post(
            ctx,
            "trade.compensation",
            comp_id,
            [debit(expense, amount_fen), credit(user_account(t["buyer_id"]), amount_fen)],
            memo=trade_id,
        )
        tx.execute(
            "INSERT INTO trade_compensations (id, trade_id, buyer_id, amount_fen, operator_id,"
            " reason, created_at_ms) VALUES (:id, :t, :b, :a, :op, :r, :now)",
            {
                "id": comp_id,
                "t": trade_id,
                "b": t["buyer_id"],
                "a": amount_fen,
                "op": operator_id,
                "r": reason[:200],
                "now": clock.now_ms(),
            },
        )
        return _load(tx, "trade_compensations", comp_id)

    return p.writer_for(trade_id).submit(command)


# --- the scheduler (business clock) ---------------------------------------------------------------
def run_due_jobs(p: Platform, limit: int = JOB_BATCH_MAX) -> dict[str, int]:
    """Close unpaid trades past their timeout, auto-confirm secured trades, and finish instant
    trades whose refund window is over. Safe to run from several places: every move is guarded.
    """
    now = clock.now_ms()
    window_ms = setting(p, "trade_refund_window_days") * DAY_MS
    done = {"orders_closed": 0, "trades_closed": 0, "auto_confirmed": 0, "finished": 0}
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            orders = tx.all(
                "SELECT id FROM trade_orders WHERE status = 'OPEN'"
                " AND timeout_at_ms <= :now LIMIT :l",
                {"now": now, "l": limit},
            )
            unpaid = tx.all(
                "SELECT id FROM trades WHERE status = :s AND timeout_at_ms <= :now LIMIT :l",
                {"s": WAIT_BUYER_PAY, "now": now, "l": limit},
            )
            confirm = tx.all(
                "SELECT id FROM trades WHERE status = :s AND auto_confirm_at_ms <= :now LIMIT :l",
                {"s": WAIT_BUYER_CONFIRM_GOODS, "now": now, "l": limit},
            )
            finish = tx.all(
                "SELECT id FROM trades WHERE status = :s AND paid_at_ms <= :cut LIMIT :l",
                {"s": TRADE_SUCCESS, "cut": now - window_ms, "l": limit},
            )
        writer = p.writers[unit]
        for r in orders:
            done["orders_closed"] += writer.submit(_close_order_cmd(r["id"]))["status"] == "CLOSED"
        for r in unpaid:
            done["trades_closed"] += _run_guarded(writer, _close_trade_cmd(r["id"], "timeout"))
        for r in confirm:
            done["auto_confirmed"] += _run_guarded(writer, _auto_confirm_cmd(r["id"]))
        for r in finish:
            done["finished"] += _run_guarded(writer, _finish_cmd(r["id"]))
    return done


def _run_guarded(writer: Any, command: Any) -> int:
    try:
        writer.submit(command)
        return 1
    except QianbaoError as exc:  # the trade moved on meanwhile (paid, refunded, disputed)
        log.info("scheduled move skipped: %s", exc)
        return 0


def _auto_confirm_cmd(trade_id: str) -> Any:
    def command(ctx: WriteContext) -> Row:
        t = _load(ctx.tx, "trades", trade_id)
        if t["status"] != WAIT_BUYER_CONFIRM_GOODS or t["auto_confirm_at_ms"] > clock.now_ms():
            raise refuse(t, "auto-confirm")
        return _release_in(ctx, t, t["total_amount_fen"] - t["refunded_fen"])

    return command


def _finish_cmd(trade_id: str) -> Any:
    def command(ctx: WriteContext) -> Row:
        t = _load(ctx.tx, "trades", trade_id)
        if t["status"] != TRADE_SUCCESS:
            raise refuse(t, "finish")
        INSTANT_TRADE.move(
            ctx.tx, trade_id, TRADE_SUCCESS, TRADE_FINISHED, ended_at_ms=clock.now_ms()
        )
        return _load(ctx.tx, "trades", trade_id)

    return command


def open_trade_accounts(p: Platform) -> None:
    """Open the platform accounts trades use in every unit (bootstrap calls this once)."""

    def opener(unit: int) -> Any:
        def command(ctx: WriteContext) -> None:
            for subject in ("escrow", "compensation_expense"):
                open_account(ctx.tx, unit_account(subject, unit), f"u{unit}")

        return command

    for unit, writer in enumerate(p.writers):
        writer.submit(opener(unit))
