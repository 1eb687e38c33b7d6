"""Yu'e Bao (余额宝) endpoints: subscribe, redeem, holdings, orders, income, the 7-day yield;
the operator's reconciliation with the fund company; and the wallet page ``/wallet/yuebao``.

Amounts are integer fen (a share is 1 fen, NAV 1.00). Every write takes the client's
``request_id``: the same id and body answer the first order, another body is a 409."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, StrictInt

from qianbao.api.deps import Operator, PlatformDep, UserId, page_user
from qianbao.api.errors import DayInvalid
from qianbao.api.models import Body, RequestId
from qianbao.api.page_login import LoginFields, UserCookie, sign_in
from qianbao.api.security import csrf_guard
from qianbao.members import service as members
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import fen_to_yuan, yuan_to_fen
from qianbao.wealth import reconcile as yuebao_recon
from qianbao.wealth import service as yuebao

router = APIRouter(prefix="/api/v1", tags=["yuebao"])
pages = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "web" / "templates"))


class SubscribeIn(Body):
    amount_fen: StrictInt = Field(..., description="Fen to invest (1 share = 1 fen)")
    request_id: str = RequestId
    source: Literal["BALANCE", "CARD"] = "BALANCE"
    card_id: str | None = Field(None, max_length=64, description="Required with CARD")


class RedeemIn(Body):
    amount_fen: StrictInt = Field(..., description="Shares (fen) to redeem to the balance")
    request_id: str = RequestId
    mode: Literal["FAST", "NORMAL"] = Field(
        "FAST", description="FAST: at once, ≤ the daily limit; NORMAL: on T+1"
    )


class OrderOut(BaseModel):
    id: str
    kind: str
    mode: str
    amount_fen: int
    status: str
    day: str
    trade_date: str
    confirm_date: str
    request_id: str | None
    ref: str


class YieldOut(BaseModel):
    through: str
    percent: str | None = Field(description='七日年化 as a percentage string, e.g. "1.759"')
    per_10k: list[dict[str, str]]


class HoldingsOut(BaseModel):
    user_id: str
    shares_fen: int
    value_fen: int
    pending_fen: int
    redeeming_fen: int
    yesterday_income_fen: int
    total_income_fen: int
    fast_redeem_left_fen: int
    seven_day_yield: YieldOut


class IncomeOut(BaseModel):
    day: str
    income_fen: int
    shares_after_fen: int | None = Field(description="null for a day older than 400 postings")


@router.post(
    "/me/yuebao/subscriptions", status_code=201, response_model=OrderOut, summary="Subscribe (申购)"
)
def subscribe(body: SubscribeIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return yuebao.subscribe(
        p, user_id, body.amount_fen, body.request_id, source=body.source, card_id=body.card_id
    )


@router.post(
    "/me/yuebao/redemptions", status_code=201, response_model=OrderOut, summary="Redeem (赎回)"
)
def redeem(body: RedeemIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return yuebao.redeem(p, user_id, body.amount_fen, body.request_id, mode=body.mode)


@router.get("/me/yuebao", response_model=HoldingsOut, summary="My Yu'e Bao holdings")
def holdings(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return yuebao.holdings(p, user_id)


@router.get("/me/yuebao/orders", response_model=list[OrderOut], summary="My Yu'e Bao orders")
def orders(
    p: PlatformDep, user_id: UserId, limit: int = Query(50, ge=1, le=500)
) -> list[dict[str, Any]]:
    return yuebao.orders(p, user_id, limit)


@router.get("/me/yuebao/orders/{order_id}", response_model=OrderOut, summary="One order")
def order(order_id: str, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return yuebao.order_of(p, user_id, order_id)


@router.get(
    "/me/yuebao/income", response_model=list[IncomeOut], summary="My daily income, newest first"
)
def income(
    p: PlatformDep, user_id: UserId, limit: int = Query(30, ge=1, le=400)
) -> list[dict[str, Any]]:
    return yuebao.income_history(p, user_id, limit)


def _day(text: str | None) -> date:
    if text is None:
        return clock.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DayInvalid("day is an ISO date, e.g. 2026-06-21") from None


@router.get("/yuebao/yield", response_model=YieldOut, summary="The 7-day annualised yield")
def seven_day_yield(
    p: PlatformDep, through: str | None = Query(None, max_length=10, description="ISO date")
) -> dict[str, Any]:
    return yuebao.seven_day_yield(p, _day(through) if through else clock.today())


@router.get(
    "/ops/yuebao/reconciliations/{day}", summary="Reconciliation with the fund company, per unit"
)
def reconciliation(day: str, p: PlatformDep, op: Operator) -> list[dict[str, Any]]:
    op.require("read")
    key = _day(day)
    return [r for u in range(len(p.units)) if (r := yuebao_recon.stored_report(p, u, key))]


# --- the wallet page ----------------------------------------------------------------------------


def _page(request: Request, p: Any, user_id: str | None, **extra: Any) -> HTMLResponse:
    ctx: dict[str, Any] = {"user_id": user_id, **extra}
    if user_id:
        held = yuebao.holdings(p, user_id)
        ctx |= {
            "held": {k: fen_to_yuan(v) for k, v in held.items() if k.endswith("_fen")},
            "yield": held["seven_day_yield"],
            "income": yuebao.income_history(p, user_id, 7),
            "orders": yuebao.orders(p, user_id, 10),
            "cards": members.list_cards(p, user_id),
            "yuan": fen_to_yuan,
        }
    status = 400 if extra.get("error") else 200
    return templates.TemplateResponse(request, "yuebao.html", ctx, status_code=status)


@pages.get("/wallet/yuebao", response_class=HTMLResponse)
def yuebao_page(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> HTMLResponse:
    return _page(request, p, page_user(p, qb_user))


@pages.post("/wallet/yuebao/login")
def yuebao_login(request: Request, p: PlatformDep, form: LoginFields) -> Response:
    """Log in on the Yu'e Bao page (``page_login``: the wallet's code step, device cookie and
    throttle)."""

    def again(error: str, ctx: dict[str, str]) -> HTMLResponse:
        return _page(request, p, None, error=error, **ctx)

    return sign_in(request, p, form, "/wallet/yuebao", again)


@pages.post("/wallet/yuebao/order", response_class=HTMLResponse)
def yuebao_order(
    request: Request,
    p: PlatformDep,
    action: Annotated[str, Form()],
    amount: Annotated[str, Form()],
    request_id: Annotated[str, Form()],
    source: Annotated[str, Form()] = "BALANCE",
    qb_user: UserCookie = None,
) -> HTMLResponse:
    user_id = page_user(p, qb_user)
    if user_id is None:
        return _page(request, p, None, error="please log in")
    try:
        fen = yuan_to_fen(amount)
        if action == "subscribe":
            card = source.removeprefix("CARD:") if source.startswith("CARD:") else None
            kind = "CARD" if card else "BALANCE"
            row = yuebao.subscribe(p, user_id, fen, request_id, source=kind, card_id=card)
        else:
            mode = "NORMAL" if action == "redeem-normal" else "FAST"
            row = yuebao.redeem(p, user_id, fen, request_id, mode=mode)
    except QianbaoError as exc:
        return _page(request, p, user_id, error=f"{exc.code}: {exc.message}")
    return _page(request, p, user_id, done=row)
