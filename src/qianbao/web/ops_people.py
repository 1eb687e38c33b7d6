"""The back office's users and merchants: look one up, see its money and state, and act on it
(freeze the wallet, freeze Huabei, change a merchant's contract). Each action names its
permission (``members/roles.py``), carries the operator's reason into the audit log and calls the
service that owns the rule."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.backoffice import people
from qianbao.credit import lines as credit_lines
from qianbao.members import merchant_category, roles
from qianbao.members import service as members
from qianbao.members.errors import MerchantCategoryInvalid
from qianbao.platform.errors import QianbaoError
from qianbao.risk import service as risk
from qianbao.web.ops_forms import REASON_MAX, act
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
Reason = Annotated[str, Form(max_length=REASON_MAX)]
QUERY_MAX = 80


def _user_page(user_id: str) -> str:
    return "/ops/users?q=" + quote(user_id)


def _merchant_page(merchant_id: str) -> str:
    return "/ops/merchants?q=" + quote(merchant_id)


@router.get("/ops/users", response_class=HTMLResponse)
def users(
    request: Request, p: PlatformDep, q: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    context: dict[str, Any] = {"q": q[:QUERY_MAX], "u": None, "error": ""}
    if not q.strip():
        return render(request, op, "ops_users.html", context)
    try:
        context["u"] = people.user_overview(p, people.find_user(p, q[:QUERY_MAX]))
    except QianbaoError as exc:
        return render(request, op, "ops_users.html", {**context, "error": exc.message}, 404)
    return render(request, op, "ops_users.html", context)


@router.post("/ops/users/{user_id}/wallet-freeze")
def wallet_freeze(
    user_id: str,
    request: Request,
    p: PlatformDep,
    reason: Reason = "",
    frozen: Annotated[bool, Form()] = True,
    qb_operator: OperatorCookie = None,
) -> Response:
    """Freeze or unfreeze the wallet through risk control's freeze list (as the API's
    ``/risk/freezes``, permission ``write``): a frozen user's payments are refused."""

    def run(op: members.Principal) -> None:
        members.get_user(p, user_id)
        change = risk.freeze if frozen else risk.unfreeze
        change(p, "USER", user_id, reason, op.id)

    back = _user_page(user_id)
    return act(request, p, qb_operator, roles.WRITE, run, back, reason=reason, frozen=str(frozen))


@router.post("/ops/users/{user_id}/huabei-freeze")
def huabei_freeze(
    user_id: str,
    request: Request,
    p: PlatformDep,
    reason: Reason = "",
    frozen: Annotated[bool, Form()] = True,
    qb_operator: OperatorCookie = None,
) -> Response:
    def run(op: members.Principal) -> None:
        credit_lines.operator_freeze(p, op.id, user_id, frozen, reason)

    back = _user_page(user_id)
    return act(request, p, qb_operator, roles.CREDIT, run, back, reason=reason, frozen=str(frozen))


@router.get("/ops/merchants", response_class=HTMLResponse)
def merchants(
    request: Request, p: PlatformDep, q: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    context: dict[str, Any] = {
        "q": q[:QUERY_MAX],
        "m": None,
        "error": "",
        "cycles": members.SETTLE_CYCLES,
        "categories": merchant_category.MERCHANT_CATEGORIES,
    }
    if not q.strip():
        return render(request, op, "ops_merchants.html", context)
    try:
        context["m"] = people.merchant_overview(p, people.find_merchant(p, q[:QUERY_MAX]))
    except QianbaoError as exc:
        return render(request, op, "ops_merchants.html", {**context, "error": exc.message}, 404)
    return render(request, op, "ops_merchants.html", context)


@router.post("/ops/merchants/{merchant_id}/contract")
def merchant_contract(
    merchant_id: str,
    request: Request,
    p: PlatformDep,
    settle_cycle: Annotated[str, Form(max_length=12)] = "",
    category: Annotated[str, Form(max_length=12)] = "",
    reason: Reason = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    """A merchant's settlement cycle and category (permission ``merchants.write``)."""

    def run(op: members.Principal) -> None:
        if category and category.strip().lower() not in merchant_category.MERCHANT_CATEGORIES:
            raise MerchantCategoryInvalid(
                f"category must be one of {merchant_category.MERCHANT_CATEGORIES}"
            )
        if settle_cycle:
            members.set_settle_cycle(p, merchant_id, settle_cycle)
        if category:
            merchant_category.set_category(p, merchant_id, category)

    typed = {"reason": reason, "settle_cycle": settle_cycle, "category": category}
    return act(request, p, qb_operator, roles.MERCHANTS, run, _merchant_page(merchant_id), **typed)
