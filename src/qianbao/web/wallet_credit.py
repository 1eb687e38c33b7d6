"""The wallet's Huabei pages (花呗): the line, the current bill with its items, repaying it
(full, minimum or any amount), the bill history, splitting a bill into installments after
seeing its fee, and a plan's periods. Server-rendered over the credit use cases; every form
carries a request id made when the page is shown, so submitting it twice repays (or splits)
once. The login is the wallet's ``qb_user`` cookie (``web/wallet.py``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.page_login import UserCookie
from qianbao.api.security import csrf_guard
from qianbao.credit import installments, lines, reads, repayments
from qianbao.credit.config import config_for
from qianbao.credit.errors import AccountNotFound
from qianbao.platform.errors import InvalidArgument, QianbaoError
from qianbao.platform.money import yuan_to_fen
from qianbao.platform.runtime import Platform
from qianbao.web.wallet_shell import refused, render, wallet_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
HOME = "/wallet/huabei"
PERIODS = (3, 6, 9, 12)  # what the page offers; the credit package decides what is allowed
CHOICES = ("full", "minimum", "other")


def _splittable(p: Platform, user_id: str) -> list[Any]:
    """Purchases not yet on a bill nor in a plan: each may be split (交易分期)."""
    rows = reads.list_purchases(p, user_id, 50)
    return [
        r for r in rows if r["statement_id"] is None and r["plan_id"] is None and r["bill_date"]
    ]


def _repay_amounts(bills: list[dict[str, Any]], payoff: dict[str, int]) -> dict[str, int]:
    """What the two quick choices repay: every unpaid bill in full (with today's interest), or
    what is left of the minimums."""
    unpaid = [b for b in bills if b["statement_id"] in payoff]
    return {
        "full": sum(payoff.values()),
        "minimum": sum(b["minimum_left_fen"] for b in unpaid),
    }


def _home(request: Request, p: Platform, user_id: str, **extra: Any) -> HTMLResponse:
    try:
        summary = reads.summary(p, user_id)
    except AccountNotFound:
        ctx = {"summary": None, "request_id": uuid.uuid4().hex, **extra}
        return render(request, "wallet_huabei.html", 400 if extra.get("code") else 200, **ctx)
    bills = reads.list_statements(p, user_id)
    current = reads.get_statement(p, user_id, bills[0]["statement_id"]) if bills else None
    payoff = repayments.payoff_fen(p, user_id)
    ctx = {
        "summary": summary,
        "used_fen": summary["unbilled_fen"]
        + summary["billed_unpaid_fen"]
        + summary["installment_outstanding_fen"],
        "current": current,
        "bills": bills,
        "plans": reads.list_plans(p, user_id),
        "unbilled": _splittable(p, user_id),
        "purchase_periods": sorted(config_for(p).purchase_installment_rates),
        "amounts": _repay_amounts(bills, payoff),
        "request_id": uuid.uuid4().hex,
        "repayments": reads.repayments(p, user_id)[:10],
        **extra,
    }
    return render(request, "wallet_huabei.html", 400 if extra.get("code") else 200, **ctx)


@router.get(HOME, response_class=HTMLResponse)
def huabei_page(
    request: Request, p: PlatformDep, repaid: str = "", qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, HOME)
    notice = "还款成功 Repaid" if repaid else ""
    return _home(request, p, user_id, notice=notice)


@router.post(HOME + "/open", response_class=HTMLResponse)
def open_huabei(
    request: Request,
    p: PlatformDep,
    request_id: Annotated[str, Form(max_length=64)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, HOME)
    try:
        lines.open_credit_account(p, user_id, request_id)
    except QianbaoError as exc:
        return _home(request, p, user_id, code=str(exc.code), message=exc.message)
    return RedirectResponse(HOME, status_code=303)


def _chosen_fen(choice: str, amount: str, full_fen: str, minimum_fen: str) -> int:
    """The amount of the repay form: the full or minimum amount shown with the page, or the
    amount typed (yuan)."""
    if choice not in CHOICES:
        raise InvalidArgument("choose full, minimum or another amount")
    if choice == "other":
        return yuan_to_fen(amount.strip())
    shown = full_fen if choice == "full" else minimum_fen
    if not shown.isdigit():
        raise InvalidArgument("the amount shown with the form is missing")
    return int(shown)


@router.post(HOME + "/repay", response_class=HTMLResponse)
def repay(
    request: Request,
    p: PlatformDep,
    request_id: Annotated[str, Form(max_length=64)],
    choice: Annotated[str, Form(max_length=10)] = "other",
    amount: Annotated[str, Form(max_length=20)] = "",
    full_fen: Annotated[str, Form(max_length=16)] = "",
    minimum_fen: Annotated[str, Form(max_length=16)] = "",
    pay_password: Annotated[str, Form(max_length=6)] = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, HOME)
    try:
        amount_fen = _chosen_fen(choice, amount, full_fen, minimum_fen)
        row = repayments.repay(p, user_id, amount_fen, request_id, pay_password or None)
    except QianbaoError as exc:
        return refused(request, exc, HOME)
    return RedirectResponse(f"{HOME}?repaid={row['id']}", status_code=303)


@router.get(HOME + "/bills/{statement_id}", response_class=HTMLResponse)
def bill_page(
    statement_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, f"{HOME}/bills/{statement_id}")
    try:
        bill = reads.get_statement(p, user_id, statement_id)
    except QianbaoError as exc:
        return refused(request, exc, HOME)
    return render(request, "wallet_huabei_bill.html", bill=bill, periods=PERIODS)


@router.get(HOME + "/bills/{statement_id}/split", response_class=HTMLResponse)
def split_preview(
    statement_id: str,
    request: Request,
    p: PlatformDep,
    periods: str = "",
    qb_user: UserCookie = None,
) -> Response:
    """The price of splitting the bill, before anything is booked."""
    back = f"{HOME}/bills/{statement_id}"
    user_id = wallet_user(p, qb_user, back)
    try:
        if not periods.isdigit() or len(periods) > 2:
            raise InvalidArgument("choose the number of periods")
        preview = installments.preview_bill(p, user_id, statement_id, int(periods))
    except QianbaoError as exc:
        return refused(request, exc, back)
    return _split_page(request, preview, f"{HOME}/bills/{statement_id}/split", back)


def _split_page(request: Request, preview: dict[str, Any], action: str, back: str) -> Response:
    ctx: dict[str, Any] = {"preview": preview, "request_id": uuid.uuid4().hex}
    ctx |= {"action": action, "back": back}
    return render(request, "wallet_huabei_split.html", **ctx)


@router.post(HOME + "/bills/{statement_id}/split", response_class=HTMLResponse)
def split_confirm(
    statement_id: str,
    request: Request,
    p: PlatformDep,
    periods: Annotated[str, Form(max_length=2)],
    request_id: Annotated[str, Form(max_length=64)],
    qb_user: UserCookie = None,
) -> Response:
    back = f"{HOME}/bills/{statement_id}"
    user_id = wallet_user(p, qb_user, back)
    try:
        if not periods.isdigit():
            raise InvalidArgument("choose the number of periods")
        plan = installments.install_bill(p, user_id, statement_id, int(periods), request_id)
    except QianbaoError as exc:
        return refused(request, exc, back)
    return RedirectResponse(f"{HOME}/plans/{plan['id']}", status_code=303)


@router.get(HOME + "/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(plan_id: str, request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Any:
    user_id = wallet_user(p, qb_user, f"{HOME}/plans/{plan_id}")
    try:
        plan = installments.plan_schedule(p, user_id, plan_id)
    except QianbaoError as exc:
        return refused(request, exc, HOME)
    schedule = plan["schedule"]
    paid = {
        "principal_fen": sum(s["principal_fen"] for s in schedule if s["paid"]),
        "fee_fen": sum(s["fee_fen"] for s in schedule if s["paid"]),
    }
    return render(request, "wallet_huabei_plan.html", plan=plan, paid=paid)


@router.get(HOME + "/purchases/{purchase_id}/split", response_class=HTMLResponse)
def purchase_split_preview(
    purchase_id: str,
    request: Request,
    p: PlatformDep,
    periods: str = "",
    qb_user: UserCookie = None,
) -> Response:
    """The price of splitting one purchase (交易分期), before anything is booked."""
    user_id = wallet_user(p, qb_user, HOME)
    try:
        if not periods.isdigit() or len(periods) > 2:
            raise InvalidArgument("choose the number of periods")
        preview = installments.preview_purchase(p, user_id, purchase_id, int(periods))
    except QianbaoError as exc:
        return refused(request, exc, HOME)
    return _split_page(request, preview, f"{HOME}/purchases/{purchase_id}/split", HOME)


@router.post(HOME + "/purchases/{purchase_id}/split", response_class=HTMLResponse)
def purchase_split_confirm(
    purchase_id: str,
    request: Request,
    p: PlatformDep,
    periods: Annotated[str, Form(max_length=2)],
    request_id: Annotated[str, Form(max_length=64)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, HOME)
    try:
        if not periods.isdigit():
            raise InvalidArgument("choose the number of periods")
        plan = installments.install_purchase(p, user_id, purchase_id, int(periods), request_id)
    except QianbaoError as exc:
        return refused(request, exc, HOME)
    return RedirectResponse(f"{HOME}/plans/{plan['id']}", status_code=303)
