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
from dataclasses import dataclass, fields
from typing import Any

from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import OpenAccount
from qianbao.marketing import service as marketing
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import BALANCE, CARD, HUABEI, TRADE, YUEBAO, Refund
from qianbao.money_movement.errors import FundingInvalid, InstallmentNotAllowed, MerchantFrozen
from qianbao.money_movement.funding import payout_card
from qianbao.money_movement.guards import check_amount
from qianbao.openapi import notify
from qianbao.payments import codes, settlement, store
from qianbao.payments.errors import (
    CouponNotApplicable,
    InstallmentsInvalid,
    MissingTradeNo,
    NotifyUrlInvalid,
    OutTradeNoUsed,
    ProductInvalid,
    SubjectInvalid,
    TimeoutInvalid,
    TradeBuyerNotMatch,
    TradeError,
    TradeHasClosed,
    TradeHasFinished,
    TradeHasSuccess,
    TradeInDispute,
    TradeNotExist,
)
from qianbao.platform import idempotency
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import (
    QianbaoError,
)
from qianbao.platform.ids import bucket_for_key, bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.trades")

INSTANT, SECURED = "INSTANT", "SECURED"
FUNDINGS = (BALANCE, CARD, HUABEI, YUEBAO)
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
        TRADE_DISPUTED: {TRADE_DISPUTED, TRADE_FINISHED, TRADE_CLOSED},  # a split refunds first
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
CREATED_TRADES_MAX = 10_000  # trades created in this process that no one tried to pay yet
OUT_NO_MAX_CHARS = 64


def setting(p: Platform, name: str) -> int:
    return int(p.settings.extra.get(name, DEFAULTS[name]))


def machine(trade: Row) -> StateMachine:
    return SECURED_TRADE if trade["product"] == SECURED else INSTANT_TRADE


_REFUSALS: dict[str, type[TradeError]] = {
    TRADE_CLOSED: TradeHasClosed,
    TRADE_FINISHED: TradeHasFinished,
    TRADE_SUCCESS: TradeHasSuccess,
    TRADE_DISPUTED: TradeInDispute,
}


def refuse(trade: Row, action: str) -> TradeError:
    """The named error for an action the trade's status does not allow."""
    status = trade["status"]
    error = _REFUSALS.get(status, TradeError)
    return error(f"cannot {action} a trade in status {status}")


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
        """The request's digest: every field but where to notify, and the buyer."""
        body = {name: getattr(self, name) for name in _FINGERPRINTED}
        body["buyer_id"] = buyer_id
        return idempotency.request_hash(body)


_FINGERPRINTED = tuple(
    f.name for f in fields(TradeRequest) if f.name not in ("app_id", "notify_url")
)


def _check_request(p: Platform, req: TradeRequest) -> None:
    check_amount(p, req.total_amount_fen)
    idempotency.check_key(req.out_trade_no)
    if not req.subject.strip() or len(req.subject) > 128:
        raise SubjectInvalid("subject must be 1–128 characters")
    if req.product not in (INSTANT, SECURED):
        raise ProductInvalid("product must be INSTANT or SECURED")
    limit = setting(p, "trade_timeout_max_minutes")
    if req.timeout_minutes is not None and not 1 <= req.timeout_minutes <= limit:
        raise TimeoutInvalid(f"timeout must be 1–{limit} minutes")
    if len(req.notify_url) > 256:
        raise NotifyUrlInvalid("notify_url too long")
    merchant = members.get_merchant_cached(p, req.merchant_id)
    if merchant["status"] != "ACTIVE":
        raise MerchantFrozen("merchant is not active")


def order_bucket(merchant_id: str, out_trade_no: str) -> int:
    return bucket_for_key(f"{merchant_id}|{out_trade_no}")


def _order_unit(p: Platform, merchant_id: str, out_trade_no: str) -> int:
    return p.unit_of_bucket(order_bucket(merchant_id, out_trade_no))


def load_row(tx: Tx, table: str, row_id: str) -> Row:
    row = tx.one(f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
    if row is None:
        raise TradeNotExist("trade does not exist")
    return dict(row)


# --- orders (routing and out_trade_no uniqueness) --------------------------------------------
@dataclass(frozen=True, slots=True)
class OpenTradeOrder:
    """Claim ``out_trade_no`` in its order unit (and, with ``open_trade``, open the buyer's
    trade in the same transaction, when the buyer lives in that unit). A command as data, so it
    can be sent to the unit's process; its own ``__call__`` is its handler."""

    order_id: str
    trade_id: str | None
    merchant_id: str
    out_trade_no: str
    request_hash: str
    product: str
    subject: str
    total_amount_fen: int
    timeout_at_ms: int | None
    app_id: str | None
    notify_url: str | None
    buyer_id: str | None
    now_ms: int
    open_trade: bool = False

    def __call__(self, ctx: WriteContext) -> Row:
        order = self._claim(ctx)
        if not self.open_trade:
            return order
        return _open_trade(ctx, order, new=order["id"] == self.order_id)

    def _claim(self, ctx: WriteContext) -> Row:
        """The order of ``out_trade_no``: the first one (same request) or a new one, decided
        without a read of the database unless the batch runs precisely (``store.ClaimedOrders``:
        a replay this writer does not remember is found when the new order is written)."""
        claimed: store.ClaimedOrders = ctx.participant("trades.orders", store.ClaimedOrders)
        key = (self.merchant_id, self.out_trade_no)
        old = claimed.find(key)
        if old is not None:
            if old["request_hash"] != self.request_hash:
                raise OutTradeNoUsed(
                    f"out_trade_no {self.out_trade_no!r} was used for another trade"
                )
            return old
        values = {name: getattr(self, name) for name in _ORDER_COLUMNS}
        values["status"] = "BOUND" if self.buyer_id else "OPEN"
        values["created_at_ms"] = values["updated_at_ms"] = self.now_ms
        return claimed.claim(ctx.tx, key, values | {"id": self.order_id})


_ORDER_COLUMNS = (  # the order's columns as the command carries them
    *("merchant_id", "out_trade_no", "request_hash", "product", "subject", "total_amount_fen"),
    *("timeout_at_ms", "app_id", "notify_url", "trade_id", "buyer_id"),
)


def _order_command(
    req: TradeRequest, buyer_id: str | None, *, open_trade: bool = False
) -> OpenTradeOrder:
    now = clock.now_ms()
    return OpenTradeOrder(
        order_id=new_id(order_bucket(req.merchant_id, req.out_trade_no)),
        trade_id=new_id(bucket_of(buyer_id)) if buyer_id else None,
        merchant_id=req.merchant_id,
        out_trade_no=req.out_trade_no,
        request_hash=req.fingerprint(buyer_id),
        product=req.product,
        subject=req.subject.strip(),
        total_amount_fen=req.total_amount_fen,
        timeout_at_ms=now + req.timeout_minutes * 60_000 if req.timeout_minutes else None,
        app_id=req.app_id,
        notify_url=req.notify_url,
        buyer_id=buyer_id,
        now_ms=now,
        open_trade=open_trade,
    )


@dataclass(frozen=True, slots=True)
class OpenTrade:
    """Open a bound order's trade in the buyer's unit (idempotent; ``new``: just claimed)."""

    order: dict[str, Any]
    new: bool = False

    def __call__(self, ctx: WriteContext) -> Row:
        return _open_trade(ctx, self.order, new=self.new)


def _ensure_trade(p: Platform, order: Row, *, new: bool = False) -> Row:
    """Open the trade of a bound order in the buyer's unit (idempotent: heals a half-done bind)."""
    assert order["trade_id"] and order["buyer_id"]
    return p.writer_for(order["trade_id"]).submit(OpenTrade(dict(order), new))


def _open_trade(ctx: WriteContext, order: Row, *, new: bool = False) -> Row:
    """The bound order's trade, opened now (its row built in memory) or as it was opened (a
    known order's trade is looked for first, so its insert does not meet the existing row)."""
    waiting = store.waiting(ctx)
    found = None if new else waiting.find(ctx, order["trade_id"])
    if found is not None:
        return found
    now = clock.now_ms()
    values = {
        "id": order["trade_id"],
        "order_id": order["id"],
        "merchant_id": order["merchant_id"],
        "out_trade_no": order["out_trade_no"],
        "buyer_id": order["buyer_id"],
        "product": order["product"],
        "subject": order["subject"],
        "total_amount_fen": order["total_amount_fen"],
        "status": WAIT_BUYER_PAY,
        "timeout_at_ms": order["timeout_at_ms"],
        "app_id": order["app_id"],
        "notify_url": order["notify_url"],
        "created_at_ms": now,
        "updated_at_ms": now,
    }
    opened = store.insert_trade(ctx.tx, values)
    if opened is None:
        return load_row(ctx.tx, "trades", order["trade_id"])
    waiting.opened_trade(opened)  # its pay needs no read (``store.Waiting``)
    return opened


def create(p: Platform, req: TradeRequest, buyer_id: str) -> Row:
    """A trade for a known buyer, waiting for the buyer to pay (at the cashier or by code): one
    command when the order's unit is the buyer's, else the order is claimed first and the trade
    opened after it (two commits)."""
    _check_request(p, req)
    members.get_user_cached(p, buyer_id)  # the buyer exists
    unit = _order_unit(p, req.merchant_id, req.out_trade_no)
    command = _order_command(req, buyer_id, open_trade=unit == p.unit_of(buyer_id))
    trade = order = p.writers[unit].submit(command)
    if not command.open_trade:
        trade = _ensure_trade(p, order, new=order["id"] == command.order_id)
    if trade["status"] == WAIT_BUYER_PAY:  # its first pay needs no read (``pay``)
        if len(p.created_trades) >= CREATED_TRADES_MAX:
            p.created_trades.clear()
        p.created_trades[trade["id"]] = trade
    return trade


def precreate(p: Platform, req: TradeRequest) -> Row:
    """An order with a dynamic QR; the first buyer to scan it is bound to it."""
    _check_request(p, req)
    unit = _order_unit(p, req.merchant_id, req.out_trade_no)
    order = p.writers[unit].submit(_order_command(req, None))
    return {**order, "qr_code": codes.order_qr_content(p, order["id"])}


def get_order(p: Platform, order_id: str) -> Row:
    try:
        db = p.db_for(order_id)
    except ValueError:
        raise TradeNotExist("no such order") from None
    with db.read() as tx:
        row = tx.one("SELECT * FROM trade_orders WHERE id = :id", {"id": order_id})
    if row is None:
        raise TradeNotExist("no such order")
    return dict(row)


@dataclass(frozen=True, slots=True)
class BindTradeBuyer:
    """Bind the buyer who scanned a precreated order (in the order's unit). A command as data."""

    order_id: str
    buyer_id: str
    trade_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        tx = ctx.tx
        o = load_row(tx, "trade_orders", self.order_id)
        if o["status"] == "CLOSED":
            raise TradeHasClosed("the trade has closed")
        if o["status"] == "BOUND":
            if o["buyer_id"] != self.buyer_id:
                raise TradeBuyerNotMatch("another buyer is paying this trade")
            return o
        if o["timeout_at_ms"] is not None and o["timeout_at_ms"] <= clock.now_ms():
            raise TradeHasClosed("the trade has timed out")
        ORDER.move(
            tx, self.order_id, "OPEN", "BOUND", trade_id=self.trade_id, buyer_id=self.buyer_id
        )
        return load_row(tx, "trade_orders", self.order_id)


def bind_buyer(p: Platform, order_id: str, buyer_id: str) -> Row:
    """A buyer scanned a precreated order: bind the buyer and open the trade in its unit."""
    order = get_order(p, order_id)
    members.get_user(p, buyer_id)
    command = BindTradeBuyer(order_id, buyer_id, new_id(bucket_of(buyer_id)))
    bound = p.writers[p.unit_of(order["id"])].submit(command)
    return _ensure_trade(p, bound)


# --- reads ----------------------------------------------------------------------------------------
def get_trade(p: Platform, trade_id: str) -> Row:
    try:
        db = p.db_for(trade_id)
    except ValueError:
        raise TradeNotExist("trade does not exist") from None
    with db.read() as tx:
        row = tx.one("SELECT * FROM trades WHERE id = :id", {"id": trade_id})
    if row is None:
        raise TradeNotExist("trade does not exist")
    return dict(row)


def get_buyer_trade(p: Platform, trade_id: str, buyer_id: str) -> Row:
    """The trade, for its buyer only: to anyone else it does not exist."""
    trade = get_trade(p, trade_id)
    if trade["buyer_id"] != buyer_id:
        raise TradeNotExist("trade does not exist")
    return trade


def find_order(p: Platform, merchant_id: str, out_trade_no: str) -> Row:
    idempotency.check_key(out_trade_no)
    with p.units[_order_unit(p, merchant_id, out_trade_no)].read() as tx:
        row = store.find_order(tx, merchant_id, out_trade_no)
    if row is None:
        raise TradeNotExist("trade does not exist")
    return dict(row)


def lookup(
    p: Platform, merchant_id: str, *, trade_no: str | None = None, out_trade_no: str | None = None
) -> Row:
    """The merchant's trade by ``trade_no`` or ``out_trade_no``. An unbound precreated order is
    returned as a trade-shaped row without an id (status WAIT_BUYER_PAY or TRADE_CLOSED)."""
    if trade_no:
        trade = get_trade(p, trade_no)
        if trade["merchant_id"] != merchant_id:
            raise TradeNotExist("trade does not exist")
        return trade
    if not out_trade_no:
        raise MissingTradeNo("trade_no or out_trade_no is required")
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
        "offer_fen": t.get("offer_fen", 0),
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
def check_payable(trade: Row) -> None:
    if trade["status"] != WAIT_BUYER_PAY:
        raise refuse(trade, "pay")
    if trade["timeout_at_ms"] is not None and trade["timeout_at_ms"] <= clock.now_ms():
        raise TradeHasClosed("the trade has timed out")


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
    """The buyer pays: balance, a bound card (quick pay) or Huabei. Instant trades pay the
    merchant by its contract minus its fee; secured trades put the money into escrow. Nothing
    moves unless all of it does (one ``Pay`` through the money-movement engine).

    ``installments`` (3/6/12) makes an instant trade a Huabei purchase installment plan;
    ``subsidised`` (a server-side choice of the merchant, never the buyer's) has the merchant
    pay that plan's fee out of its proceeds. A secured trade's purchase stays off the bills
    until the buyer confirms receipt. ``coupon_id``: one coupon with the funding source
    (instant trades), see ``money_movement.quote``.
    """
    trade = p.created_trades.pop(trade_id, None) or get_trade(p, trade_id)
    if trade["buyer_id"] != buyer_id:
        raise TradeBuyerNotMatch("this trade belongs to another buyer")
    check_payable(trade)
    _check_funding(trade, funding, installments, subsidised)
    subsidised = subsidised or p.money.offers.subsidises(p, trade, funding, installments)
    amount = int(trade["total_amount_fen"])
    merchant = guards.payable_merchant(p, trade["merchant_id"])
    offer: dict[str, Any] = {}  # a full-reduction offer (满减) first, then the coupon (0723)
    price = amount
    if trade["product"] == INSTANT:
        unit = p.unit_of(trade_id)
        price = money_pay.with_best_offer(p, offer, trade["merchant_id"], amount, unit)
    coupon = _peek_coupon(p, trade, buyer_id, coupon_id, price)
    coupon_fen = int(coupon["face_fen"]) if coupon else 0
    payer = guards.authorise(p, buyer_id, price - coupon_fen, pay_password)
    card = members.get_card(p, buyer_id, card_id or "") if funding == CARD else None
    command = money_pay.command(
        purpose=TRADE,
        payment_id=trade_id,
        payer=payer,
        merchant=merchant,
        amount_fen=amount,
        request_id=None,  # the trade's own state makes a second pay fail
        memo=funding,
        funding=funding,
        escrowed=trade["product"] == SECURED,
        coupon_id=coupon_id,
        coupon_fen=coupon_fen,
        coupon_funder=str(coupon["funder"]) if coupon else "",
        card_id=card["id"] if card else None,
        card_channel=str(card["channel"]) if card else "",
        charge_ref=f"T{trade_id}{new_id(bucket_of(trade_id))[-8:]}",
        installments=installments,
        subsidised=subsidised,
        auth_code=auth_code,
        **offer,
    )
    return money_pay.submit(p, p.unit_of(trade_id), command)


def _peek_coupon(
    p: Platform, trade: Row, buyer_id: str, coupon_id: str | None, price_fen: int
) -> Row | None:
    if coupon_id is None:
        return None
    if trade["product"] != INSTANT:
        raise CouponNotApplicable("coupons apply to instant trades only")
    return marketing.peek(p, coupon_id, buyer_id, trade["merchant_id"], price_fen)


def _check_funding(trade: Row, funding: str, installments: int | None, subsidised: bool) -> None:
    if funding not in FUNDINGS:
        raise FundingInvalid("funding must be BALANCE, CARD, HUABEI or YUEBAO")
    if installments is None:
        if subsidised:
            raise InstallmentsInvalid("only an installment plan can be subsidised")
        return
    if funding != HUABEI or installments not in HUABEI_INSTALLMENTS:
        raise InstallmentsInvalid(f"installments must be one of {HUABEI_INSTALLMENTS}, with Huabei")
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
        n = p.money.offers.code_installments(p, trade, funding)
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
def _pay_out_card_refund(p: Platform, t: Row, refund: Row) -> None:
    """Card-funded refunds were booked to the bank reserve; the bank now pays the card."""
    to_card = refund["amount_fen"] - refund["coupon_refund_fen"]  # a coupon's share went back
    if to_card:
        card = members.get_card(p, t["buyer_id"], t["card_id"] or "")
        payout_card(p, card, f"R{refund['id']}", to_card)


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
    command = Refund(
        purpose=TRADE,
        refund_id=new_id(bucket_of(trade_id)),
        merchant_id=merchant_id,
        paid_id=trade_id,
        amount_fen=amount_fen,
        request_id=out_request_no,
        reason=reason[:100],
        settle_cycle=settlement.cycle_of(p, merchant_id),
    )
    row: Row = p.commands.submit(p.unit_of(trade_id), command)
    if row["id"] == command.refund_id and trade["funding"] == CARD:
        _pay_out_card_refund(p, trade, row)
    return row


# --- close and cancel -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CloseTrade:
    """Close an unpaid trade (the merchant's close, or its timeout). A command as data."""

    trade_id: str
    reason: str

    def __call__(self, ctx: WriteContext) -> Row:
        t = load_row(ctx.tx, "trades", self.trade_id)
        if t["status"] == TRADE_CLOSED and self.reason != "merchant":
            return t
        if t["status"] != WAIT_BUYER_PAY:
            raise refuse(t, "close")
        machine(t).move(
            ctx.tx, self.trade_id, WAIT_BUYER_PAY, TRADE_CLOSED, ended_at_ms=clock.now_ms()
        )
        closed = load_row(ctx.tx, "trades", self.trade_id)
        notify.enqueue(ctx, closed, "TRADE_CLOSED")
        return closed


@dataclass(frozen=True, slots=True)
class CloseOrder:
    """Close an open order that no buyer bound (idempotent). A command as data."""

    order_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        o = load_row(ctx.tx, "trade_orders", self.order_id)
        if o["status"] == "OPEN":
            ORDER.move(ctx.tx, self.order_id, "OPEN", "CLOSED")
        return load_row(ctx.tx, "trade_orders", self.order_id)


def close(
    p: Platform, merchant_id: str, *, trade_no: str | None = None, out_trade_no: str | None = None
) -> Row:
    """The merchant closes an unpaid trade (a paid one must be refunded instead)."""
    trade = lookup(p, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no)
    if trade["id"] is None:
        order = p.writers[p.unit_of(trade["order_id"])].submit(CloseOrder(trade["order_id"]))
        if order["status"] == "CLOSED":
            return lookup(p, merchant_id, out_trade_no=order["out_trade_no"])
        trade = _ensure_trade(p, order)  # a buyer was bound meanwhile: close that trade
    p.created_trades.pop(trade["id"], None)
    return p.writer_for(trade["id"]).submit(CloseTrade(trade["id"], "merchant"))


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


def open_trade_accounts(p: Platform) -> None:
    """Open the platform accounts trades use in every unit (bootstrap calls this once)."""
    for unit in p.owned_units:
        for subject in ("escrow", "compensation_expense"):
            p.writers[unit].submit(OpenAccount(unit_account(subject, unit), f"u{unit}"))
