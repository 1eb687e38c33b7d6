"""The back office's shell (``/ops``): operator sign-in, the role check of every ops page and the
navigation. Each ops page module imports ``operator_or_login`` and ``render`` from here.

An operator signs in with an operator API key; the cookie (HttpOnly, SameSite=Strict) holds not
the key but a session naming the key's id, when it began and a MAC under the platform's secret
(``credentials.web_session`` for the back office): it ends after 8 hours, or within a second of
the key being revoked, and the key's secret never reaches the browser again. A page names
the permission it needs (``members/roles.py``); an operator whose role lacks it gets 403."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.ops_audit import OPERATOR_COOKIE
from qianbao.api.security import csrf_guard, set_cookie
from qianbao.members import credentials, roles
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
OperatorCookie = Annotated[str | None, Cookie(alias=OPERATOR_COOKIE)]
HOME = "/ops"
SESSION_MAX_CHARS = 120


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # "中文 English"
    permission: str


# The ops console's menu: a page is listed only to a role that holds its permission.
NAV: list[NavItem] = [
    NavItem("/ops", "总览 Overview", roles.READ),
    NavItem("/ops/risk/cases", "风控 Risk cases", roles.READ),
    NavItem("/ops/approvals", "审批 Approvals", roles.READ),
    NavItem("/ops/recon", "对账 Reconciliation", roles.READ),
    NavItem("/ops/disputes", "争议赔付 Disputes", roles.READ),
    NavItem("/ops/notifications", "商户通知 Notifications", roles.READ),
    NavItem("/ops/campaigns", "优惠券 Campaigns", roles.READ),
    NavItem("/ops/credit/portfolio", "花呗资产 Huabei portfolio", roles.READ),
    NavItem("/ops/merchant-applications", "商户入驻 Merchant applications", roles.MERCHANTS),
    NavItem("/ops/users", "用户 Users", roles.READ),
    NavItem("/ops/merchants", "商户 Merchants", roles.READ),
    NavItem("/ops/books", "账务 Books", roles.READ),
    NavItem("/ops/messages", "死信 Dead messages", roles.READ),
    NavItem("/ops/audit", "审计 Audit log", roles.AUDIT),
    NavItem("/ops/plots", "图表 Plots", roles.READ),
]


def operator_of(p: Platform, session: str | None) -> members.Principal | None:
    """The operator of a back office session cookie, or None (absent, stale, forged, revoked)."""
    if not session or len(session) > SESSION_MAX_CHARS:
        return None
    return members.operator_of_session(p, session)


def _operator_key(p: Platform, api_key: str) -> bool:
    try:
        return members.principal_for_key(p, api_key).kind == "operator"
    except QianbaoError:
        return False


def login_page(request: Request, next_page: str = HOME, error: str = "") -> HTMLResponse:
    context = {"error": error, "next": next_page}
    status = 401 if error else 200
    return templates.TemplateResponse(request, "ops_login.html", context, status_code=status)


def render(
    request: Request,
    op: members.Principal,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """An ops page: the template (extending ``ops_base.html``) with the operator and the menu."""
    allowed = roles.permissions(op.role)
    nav = [item for item in NAV if item.permission in allowed]
    full = {**context, "op": op, "nav": nav}
    return templates.TemplateResponse(request, template, full, status_code=status_code)


def operator_or_login(
    request: Request, p: Platform, key: str | None, permission: str
) -> members.Principal | HTMLResponse:
    """The signed-in operator when their role holds ``permission``; otherwise the page to show
    instead: the sign-in form (401 for an action: a POST without a session did nothing), or 403.

    Use: ``op = operator_or_login(...)``, then ``if isinstance(op, Response): return op``."""
    op = operator_of(p, key)
    if op is None:
        page = login_page(request, request.url.path)
        if request.method != "GET":
            page.status_code = 401
        return page
    if permission not in roles.permissions(op.role):
        message = f"role {op.role!r} may not {permission}"
        return render(request, op, "ops_denied.html", {"message": message}, status_code=403)
    return op


@router.get("/ops/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = HOME) -> HTMLResponse:
    return login_page(request, next if next.startswith("/ops") else HOME)


@router.post("/ops/login")
def login(
    request: Request,
    p: PlatformDep,
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=200)] = HOME,
) -> Response:
    next_page = next if next.startswith("/ops") and not next.startswith("/ops/log") else HOME
    if not _operator_key(p, api_key.strip()):
        return login_page(request, next_page, "API key unknown or not an operator's")
    response = RedirectResponse(next_page, status_code=303)
    session = credentials.web_session(p, api_key.strip(), credentials.OPS_WEB)
    max_age_s = credentials.OPS_SESSION_MAX_MS // 1000
    set_cookie(response, OPERATOR_COOKIE, session, p.settings, samesite="strict", max_age=max_age_s)
    return response


@router.post("/ops/logout")
def logout() -> Response:
    response = RedirectResponse("/ops/login", status_code=303)
    response.delete_cookie(OPERATOR_COOKIE)
    return response


@router.get("/ops", response_class=HTMLResponse)
def overview(request: Request, p: PlatformDep, qb_operator: OperatorCookie = None) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    return render(request, op, "ops_home.html", {"units": len(p.units)})
