"""Trade pages and endpoints: the cashier (收银台) for buyers, the merchant centre, QR images,
bills, and the operator's notification log. Thin: every rule lives in the services."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Cookie, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import Field, StrictInt

from qianbao.api.checks import not_future_or_none
from qianbao.api.deps import MerchantId, Operator, PlatformDep, UserId, page_user
from qianbao.api.errors import DayInvalid, InstallmentsInvalid
from qianbao.api.models import Body
from qianbao.api.ops_security import proposal
from qianbao.api.page_login import LoginFields, UserCookie, sign_in
from qianbao.api.security import csrf_guard, set_cookie
from qianbao.credit import reads as credit_reads
from qianbao.credit.errors import AccountNotFound
from qianbao.marketing import service as marketing
from qianbao.marketing.reductions import service as reductions
from qianbao.members import credentials, roles
from qianbao.members import service as members
from qianbao.openapi import notify
from qianbao.payments import codes, paylinks, secured, settlement, trades
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import fen_to_yuan, yuan_to_fen
from qianbao.platform.runtime import Platform
from qianbao.wealth import service as yuebao
from qianbao.wealth.funding import YUEBAO

templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "web" / "templates"))
pages = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
router = APIRouter(prefix="/api/v1", tags=["trades"])
MERCHANT_COOKIE = "qb_merchant"
MerchantCookie = Annotated[str | None, Cookie(alias=MERCHANT_COOKIE)]


def _huabei_choice(p: Platform, user_id: str) -> dict[str, Any] | None:
    """Huabei is offered when the buyer has an account (shown disabled while frozen)."""
    try:
        s = credit_reads.summary(p, user_id)
    except AccountNotFound:
        return None
    if s["status"] == "CLOSED":
        return None
    return {
        "available": fen_to_yuan(s["available_fen"]),
        "frozen": s["frozen"],
        "installments": trades.HUABEI_INSTALLMENTS,
    }


def _coupon_choices(p: Platform, user_id: str, trade: Row | None) -> list[dict[str, Any]]:
    """The buyer's coupons usable now (instant trades; the amount is checked when paying)."""
    if trade is not None and trade["product"] != trades.INSTANT:
        return []
    merchant = trade["merchant_id"] if trade is not None else None
    return [
        {
            **c,
            "face": fen_to_yuan(c["face_fen"]),
            "min_spend": fen_to_yuan(c["min_spend_fen"]),
        }
        for c in map(marketing.public_coupon, marketing.list_coupons(p, user_id, "AVAILABLE"))
        if c["usable_now"] and (not c["merchant_id"] or c["merchant_id"] == merchant)
    ]


def _yuebao_choice(p: Platform, user_id: str) -> str | None:
    """The buyer's Yu'e Bao value in yuan, if the buyer has any shares."""
    shares = yuebao.shares_fen(p, user_id)
    return fen_to_yuan(shares) if shares else None


def _funding_context(p: Platform, user_id: str | None, trade: Row | None = None) -> dict[str, Any]:
    if not user_id:
        return {"cards": [], "balance": "0.00", "huabei": None, "coupons": [], "yuebao": None}
    return {
        "cards": members.list_cards(p, user_id),
        "balance": fen_to_yuan(payments.balance(p, user_id)["available_fen"]),
        "huabei": _huabei_choice(p, user_id),
        "yuebao": _yuebao_choice(p, user_id),
        "coupons": _coupon_choices(p, user_id, trade),
    }


def _cashier(
    request: Request, p: Platform, user_id: str | None, trade: Row | None, **extra: Any
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "user_id": user_id,
        "trade": trade,
        "next": str(request.url.path),
        **_funding_context(p, user_id, trade),
        **extra,
    }
    if trade is not None:
        ctx["amount"] = fen_to_yuan(trade["total_amount_fen"])
        ctx["merchant_name"] = members.get_merchant_cached(p, trade["merchant_id"])["name"]
        ctx.update(_offer_shown(p, trade))
    return templates.TemplateResponse(request, "trades_cashier.html", ctx)


def _offer_shown(p: Platform, trade: Row) -> dict[str, Any]:
    """The full-reduction offer (满减) the cashier will apply to an unpaid instant trade."""
    total = int(trade["total_amount_fen"])
    if trade["status"] != trades.WAIT_BUYER_PAY or trade["product"] != trades.INSTANT:
        return {"offer_fen": 0}
    offer = reductions.best(p, trade["merchant_id"], total, p.unit_of(trade["id"]))
    off = offer.offer_fen if offer else 0
    return {"offer_fen": off, "offer": fen_to_yuan(off), "after_offer": fen_to_yuan(total - off)}


def _result(request: Request, trade: Row | None, error: QianbaoError | None) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "trades_result.html",
        {
            "ok": error is None,
            "trade": trade,
            "code": error.code if error else "",
            "message": error.message if error else "",
            "amount": fen_to_yuan(trade["total_amount_fen"]) if trade else "",
        },
        status_code=200 if error is None else 400,
    )


def _funding(choice: str) -> tuple[str, str | None]:
    if choice.startswith("CARD:"):
        return trades.CARD, choice.removeprefix("CARD:")
    if choice == trades.HUABEI:
        return trades.HUABEI, None
    if choice == YUEBAO:
        return YUEBAO, None
    return trades.BALANCE, None


def _installments(kind: str, choice: str) -> int | None:
    """The installments field of the cashier form; ignored unless paying with Huabei."""
    if kind != trades.HUABEI or not choice.strip():
        return None
    if not choice.strip().isdigit():
        raise InstallmentsInvalid("installments must be 3, 6 or 12")
    return int(choice)


# --- the cashier ----------------------------------------------------------------------------------
@pages.post("/cashier/login")
def cashier_login(
    request: Request,
    p: PlatformDep,
    form: LoginFields,
    next: Annotated[str, Form(max_length=200)] = "/",
) -> Response:
    """Log in at the cashier (``page_login``: the wallet's code step, device cookie and
    throttle), back to the trade the buyer was paying."""
    if not next.startswith("/cashier/") or next.startswith("//"):
        next = "/"

    def again(error: str, ctx: dict[str, str]) -> HTMLResponse:
        return _cashier(request, p, None, None, error=error, next=next, **ctx)

    return sign_in(request, p, form, next, again)


@pages.get("/cashier/t/{trade_id}", response_class=HTMLResponse)
def cashier_trade(
    trade_id: str,
    request: Request,
    p: PlatformDep,
    qb_user: UserCookie = None,
    k: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The trade is shown to its logged-in buyer, or to a visitor holding its pay link
    (``paylinks``); anyone else sees the login form and nothing of the trade."""
    user_id = page_user(p, qb_user)
    if not user_id and not paylinks.valid(p, trade_id, k):
        return _cashier(request, p, None, None, error="log in to see and pay this trade")
    try:
        trade = trades.get_trade(p, trade_id)
    except QianbaoError as exc:
        return _cashier(request, p, user_id, None, error=exc.message)
    if user_id and trade["buyer_id"] != user_id:
        return _cashier(request, p, user_id, None, error="this trade belongs to another buyer")
    return _cashier(request, p, user_id, trade)


@pages.post("/cashier/t/{trade_id}/pay", response_class=HTMLResponse)
def cashier_pay(
    trade_id: str,
    request: Request,
    p: PlatformDep,
    pay_password: Annotated[str, Form()],
    funding: Annotated[str, Form()] = "BALANCE",
    installments: Annotated[str, Form()] = "",
    coupon_id: Annotated[str, Form(max_length=40)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = page_user(p, qb_user)
    if not user_id:
        return RedirectResponse(f"/cashier/t/{trade_id}", status_code=303)
    kind, card_id = _funding(funding)
    try:
        trade = trades.pay(
            p,
            trade_id,
            user_id,
            pay_password,
            funding=kind,
            card_id=card_id,
            installments=_installments(kind, installments),
            coupon_id=coupon_id.strip() or None,
        )
    except QianbaoError as exc:
        try:
            return _result(request, trades.get_trade(p, trade_id), exc)
        except QianbaoError:
            return _result(request, None, exc)
    return _result(request, trade, None)


@pages.get("/cashier/o/{order_id}")
def cashier_order(
    order_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> Response:
    """A scanned dynamic QR: bind the buyer to the order, then show its trade."""
    user_id = page_user(p, qb_user)
    if not user_id:
        return _cashier(request, p, None, None)
    try:
        trade = trades.bind_buyer(p, order_id, user_id)
    except QianbaoError as exc:
        return _cashier(request, p, user_id, None, error=exc.message)
    return RedirectResponse(f"/cashier/t/{trade['id']}", status_code=303)


@pages.get("/cashier/m/{merchant_id}", response_class=HTMLResponse)
def cashier_static(
    merchant_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> HTMLResponse:
    user_id = page_user(p, qb_user)
    try:
        name = members.get_merchant_cached(p, merchant_id)["name"]
    except QianbaoError as exc:
        return _cashier(request, p, user_id, None, error=exc.message)
    return _cashier(
        request,
        p,
        user_id,
        None,
        static_merchant=merchant_id,
        merchant_name=name,
        request_id=uuid.uuid4().hex,
    )


@pages.post("/cashier/m/{merchant_id}", response_class=HTMLResponse)
def cashier_static_pay(
    merchant_id: str,
    request: Request,
    p: PlatformDep,
    amount: Annotated[str, Form()],
    pay_password: Annotated[str, Form()],
    request_id: Annotated[str, Form()],
    funding: Annotated[str, Form()] = "BALANCE",
    installments: Annotated[str, Form()] = "",
    coupon_id: Annotated[str, Form(max_length=40)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = page_user(p, qb_user)
    if not user_id:
        return RedirectResponse(f"/cashier/m/{merchant_id}", status_code=303)
    kind, card_id = _funding(funding)
    try:
        trade = trades.pay_static_qr(
            p,
            merchant_id,
            user_id,
            yuan_to_fen(amount),
            pay_password,
            request_id,
            funding=kind,
            card_id=card_id,
            installments=_installments(kind, installments),
            coupon_id=coupon_id.strip() or None,
        )
    except QianbaoError as exc:
        return _result(request, None, exc)
    return _result(request, trade, None)


# --- the merchant centre --------------------------------------------------------------------------
def _merchant(p: Platform, key: str | None) -> str | None:
    """The merchant of an API key (the login form)."""
    if not key:
        return None
    try:
        principal = members.principal_for_key(p, key)
    except QianbaoError:
        return None
    return principal.id if principal.kind == "merchant" else None


def _merchant_session(p: Platform, cookie: str | None) -> str | None:
    """The merchant of the centre's cookie: a signed reference to the key it logged in with
    (``credentials.web_session``), never the key itself."""
    owner = credentials.owner_of_web_session(p, cookie) if cookie else None
    return owner.id if owner is not None and owner.kind == "merchant" else None


def _merchant_page(
    request: Request, p: Platform, merchant_id: str | None, **extra: Any
) -> HTMLResponse:
    ctx: dict[str, Any] = {"merchant": {"id": None, "name": ""}, **extra}
    if merchant_id:
        ctx["merchant"] = members.get_merchant(p, merchant_id)
        ctx["balance"] = fen_to_yuan(payments.merchant_balance(p, merchant_id)["balance_fen"])
        ctx["qr_content"] = codes.merchant_qr_content(p, merchant_id)
        pending = settlement.pending_fen(p, merchant_id)
        ctx["pending"] = fen_to_yuan(pending) if pending else ""
        ctx["batches"] = [
            {
                "day": b["day"],
                "unit": b["unit"],
                "status": b["status"],
                "gross": fen_to_yuan(b["gross_fen"]),
                "refunds": fen_to_yuan(b["refund_fen"]),
                "fee": fen_to_yuan(b["fee_fen"]),
                "net": fen_to_yuan(b["net_fen"]),
            }
            for b in settlement.list_batches(p, merchant_id, limit=14)
        ]
        ctx["today"] = clock.today().isoformat()
        ctx["trades"] = [
            {
                **t,
                "amount": fen_to_yuan(t["total_amount_fen"]),
                "fee": fen_to_yuan(t["fee_fen"]),
                "refunded": fen_to_yuan(t["refunded_fen"]),
            }
            for t in trades.list_merchant_trades(p, merchant_id, 50)
        ]
    return templates.TemplateResponse(request, "trades_merchant.html", ctx)


@pages.get("/merchant", response_class=HTMLResponse)
def merchant_home(
    request: Request, p: PlatformDep, qb_merchant: MerchantCookie = None
) -> HTMLResponse:
    return _merchant_page(request, p, _merchant_session(p, qb_merchant))


@pages.post("/merchant/login")
def merchant_login(request: Request, p: PlatformDep, api_key: Annotated[str, Form()]) -> Response:
    if not _merchant(p, api_key.strip()):
        return _merchant_page(request, p, None, error="API key unknown or not a merchant's")
    response = RedirectResponse("/merchant", status_code=303)
    session = credentials.web_session(p, api_key.strip())
    set_cookie(response, MERCHANT_COOKIE, session, p.settings, samesite="strict")
    return response


@pages.post("/merchant/trades/{trade_id}/refund", response_class=HTMLResponse)
def merchant_refund(
    trade_id: str,
    request: Request,
    p: PlatformDep,
    amount: Annotated[str, Form()],
    qb_merchant: MerchantCookie = None,
) -> Response:
    merchant_id = _merchant_session(p, qb_merchant)
    if not merchant_id:
        return RedirectResponse("/merchant", status_code=303)
    try:
        trades.refund(
            p,
            merchant_id,
            yuan_to_fen(amount),
            f"web-{uuid.uuid4().hex[:16]}",
            trade_no=trade_id,
            reason="merchant centre",
        )
    except QianbaoError as exc:
        return _merchant_page(request, p, merchant_id, error=f"{exc.code}: {exc.message}")
    return _merchant_page(request, p, merchant_id, notice=f"refunded {amount} CNY")


@pages.get("/merchant/qr.png")
def merchant_qr_page(p: PlatformDep, qb_merchant: MerchantCookie = None) -> Response:
    merchant_id = _merchant_session(p, qb_merchant)
    if not merchant_id:
        return Response(status_code=401)
    return Response(codes.qr_png(codes.merchant_qr_content(p, merchant_id)), media_type="image/png")


@pages.get("/merchant/bill.csv")
def merchant_bill_page(
    p: PlatformDep, day: str = Query(...), qb_merchant: MerchantCookie = None
) -> Response:
    merchant_id = _merchant_session(p, qb_merchant)
    if not merchant_id:
        return Response(status_code=401)
    return _bill_response(p, merchant_id, day)


def _bill_response(p: Platform, merchant_id: str, day: str) -> Response:
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise DayInvalid("day must be YYYY-MM-DD") from None
    text = settlement.bill_csv(settlement.merchant_bill(p, merchant_id, when))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="bill-{merchant_id}-{when}.csv"'},
    )


# --- JSON API -------------------------------------------------------------------------------------
@router.get("/merchant/trades", summary="The merchant's trades, newest first")
def merchant_trades(
    p: PlatformDep, merchant_id: MerchantId, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    return [trades.public_trade(t) for t in trades.list_merchant_trades(p, merchant_id, limit)]


@router.get("/merchant/bills/{day}", summary="The daily bill (对账单) as CSV")
def merchant_bill_api(day: str, p: PlatformDep, merchant_id: MerchantId) -> Response:
    return _bill_response(p, merchant_id, day)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DayInvalid("day must be YYYY-MM-DD") from None


@router.get("/merchant/settlements", summary="T+1 settlement batches and money pending")
def merchant_settlements(
    p: PlatformDep,
    merchant_id: MerchantId,
    day: str | None = Query(None, max_length=10, description="YYYY-MM-DD"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    return {
        "settle_cycle": settlement.cycle_of(p, merchant_id),
        "pending_fen": settlement.pending_fen(p, merchant_id),
        "batches": [
            settlement.public_batch(b)
            for b in settlement.list_batches(p, merchant_id, day=_day(day), limit=limit)
        ],
    }


class SettleCycleIn(Body):
    settle_cycle: str = Field(..., max_length=8, description="INSTANT or T1")


@router.post("/ops/merchants/{merchant_id}/settle-cycle", summary="Set a merchant's cycle")
def set_settle_cycle(
    merchant_id: str, body: SettleCycleIn, p: PlatformDep, operator: Operator
) -> dict[str, Any]:
    operator.require(roles.MERCHANTS)
    row = members.set_settle_cycle(p, merchant_id, body.settle_cycle)
    return {"merchant_id": row["id"], "settle_cycle": row["settle_cycle"]}


@router.post("/ops/settlement/run", summary="Run the T+1 settlement of a day that is over")
def run_settlement(
    p: PlatformDep,
    operator: Operator,
    day: str | None = Query(None, max_length=10, description="YYYY-MM-DD, default yesterday"),
) -> dict[str, Any]:
    operator.require(roles.JOBS)
    return settlement.run_settlement(p, not_future_or_none(_day(day)))


@router.get("/merchant/qr", summary="The merchant's static QR (PNG, or SVG with ?format=svg)")
def merchant_qr_api(p: PlatformDep, merchant_id: MerchantId, format: str = "png") -> Response:
    content = codes.merchant_qr_content(p, merchant_id)
    if format == "svg":
        return Response(codes.qr_svg(content), media_type="image/svg+xml")
    return Response(codes.qr_png(content), media_type="image/png")


@router.post("/merchant/trades/{trade_id}/ship", summary="Secured trade: goods shipped")
def ship(trade_id: str, p: PlatformDep, merchant_id: MerchantId) -> dict[str, Any]:
    return trades.public_trade(secured.ship(p, merchant_id, trade_id))


@router.post("/me/payment-code", summary="A one-time payment code (付款码), valid 60 s")
def payment_code(
    p: PlatformDep,
    user_id: UserId,
    funding: Literal["BALANCE", "HUABEI"] | None = Query(
        None, description="What this code draws on (default: the buyer's standing choice)"
    ),
) -> dict[str, Any]:
    return codes.issue_payment_code(p, user_id, funding)


@router.get("/me/trades", summary="The buyer's trades")
def my_trades(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return [trades.public_trade(t) for t in trades.list_buyer_trades(p, user_id)]


class TradePayIn(Body):
    funding: str = Field("BALANCE", description="BALANCE, CARD, HUABEI or YUEBAO")
    card_id: str | None = Field(None, max_length=64, description="Required with CARD")
    installments: StrictInt | None = Field(None, description="With HUABEI: 3, 6 or 12 periods")
    pay_password: str | None = Field(None, max_length=6)
    coupon_id: str | None = Field(None, max_length=40, description="One of my coupons")


@router.post("/me/trades/{trade_id}/pay", summary="Pay a trade (balance, card, Huabei or Yu'e Bao)")
def pay_trade(trade_id: str, body: TradePayIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return trades.public_trade(
        trades.pay(
            p,
            trade_id,
            user_id,
            body.pay_password,
            funding=body.funding,
            card_id=body.card_id,
            installments=body.installments,
            coupon_id=body.coupon_id,
        )
    )


@router.post("/me/trades/{trade_id}/confirm", summary="Secured trade: confirm receipt")
def confirm(
    trade_id: str, p: PlatformDep, user_id: UserId, pay_password: Annotated[str, Form()]
) -> dict[str, Any]:
    return trades.public_trade(secured.confirm_receipt(p, user_id, trade_id, pay_password))


@router.post("/me/trades/{trade_id}/dispute", summary="Secured trade: open a dispute")
def dispute(trade_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return trades.public_trade(secured.open_dispute(p, user_id, trade_id))


@router.post("/ops/trades/{trade_id}/dispute", summary="Operator decides a dispute")
def resolve(
    trade_id: str,
    p: PlatformDep,
    operator: Operator,
    decision: Annotated[str, Form()],
    buyer_amount: Annotated[str, Form()] = "0",
) -> dict[str, Any]:
    operator.require(roles.SUPPORT)
    return trades.public_trade(
        secured.resolve_dispute(p, operator.id, trade_id, decision, yuan_to_fen(buyer_amount))
    )


@router.post(
    "/ops/trades/{trade_id}/compensation",
    status_code=202,
    summary="Ask to compensate a buyer (全额赔付); paid when a second operator approves",
)
def compensation(
    trade_id: str,
    p: PlatformDep,
    operator: Operator,
    amount: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=200)],
) -> dict[str, Any]:
    operator.require(roles.propose("compensation"))
    amount_fen = yuan_to_fen(amount)
    trades.get_trade(p, trade_id)  # an unknown trade is a 404 now, not a failed approval
    params = {"trade_id": trade_id, "amount_fen": amount_fen, "reason": reason}
    return proposal(p, operator, "compensation", trade_id, params)


@router.get("/ops/notifications", summary="The notification log")
def notifications(
    p: PlatformDep, operator: Operator, status: str | None = None, trade_id: str | None = None
) -> list[dict[str, Any]]:
    operator.require("read")
    rows = notify.list_tasks(p, status=status, trade_id=trade_id)
    return [{**t, "attempt_log": notify.attempts(p, t["id"])} for t in rows]


@router.post("/ops/notifications/{task_id}/resend", summary="Send a notification again")
def resend(task_id: str, p: PlatformDep, operator: Operator) -> dict[str, Any]:
    operator.require(roles.SUPPORT)
    return dict(notify.resend(p, task_id))
