"""Merchant onboarding pages: apply (no login), look up an application, activate the sign-in,
sign in with email and password, and the merchant's open-platform apps. Thin: the rules live in
``onboarding/`` and ``openapi/apps.py``; every form carries the CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep, client_of
from qianbao.api.security import csrf_guard, set_cookie
from qianbao.members import credentials
from qianbao.members import service as members
from qianbao.members.merchant_category import MERCHANT_CATEGORIES
from qianbao.onboarding import applications, logins
from qianbao.onboarding.checks import ApplicationForm
from qianbao.openapi import apps
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.templating import page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
MERCHANT_COOKIE = "qb_merchant"  # the merchant centre's cookie (api/trades.py reads it too)
MerchantCookie = Annotated[str | None, Cookie(alias=MERCHANT_COOKIE)]
Field = Annotated[str, Form(max_length=200)]
FORM_FIELDS = (
    "business_name",
    "licence_no",
    "contact_name",
    "contact_phone",
    "contact_email",
    "bank_account_no",
    "account_holder",
    "category",
)


def _merchant_of(p: Platform, cookie: str | None) -> str | None:
    owner = credentials.owner_of_web_session(p, cookie) if cookie else None
    return owner.id if owner is not None and owner.kind == "merchant" else None


# --- apply and look up ---------------------------------------------------------------------
def _apply_page(
    request: Request, values: dict[str, str], error: str = "", status: int = 200
) -> HTMLResponse:
    context = {"v": values, "error": error, "categories": MERCHANT_CATEGORIES}
    return page(request, "merchant_apply.html", context, status)


@router.get("/merchant/apply", response_class=HTMLResponse)
def apply_form(request: Request) -> HTMLResponse:
    return _apply_page(request, {"category": "everyday"})


@router.post("/merchant/apply", response_class=HTMLResponse)
def apply(
    request: Request,
    p: PlatformDep,
    business_name: Field = "",
    licence_no: Field = "",
    contact_name: Field = "",
    contact_phone: Field = "",
    contact_email: Field = "",
    bank_account_no: Field = "",
    account_holder: Field = "",
    category: Field = "everyday",
) -> HTMLResponse:
    values = dict(
        zip(
            FORM_FIELDS,
            (
                business_name,
                licence_no,
                contact_name,
                contact_phone,
                contact_email,
                bank_account_no,
                account_holder,
                category,
            ),
            strict=True,
        )
    )
    try:
        row = applications.submit(p, ApplicationForm(**values))
    except QianbaoError as exc:
        values["bank_account_no"] = ""  # never echoed back
        return _apply_page(request, values, f"{exc.code}: {exc.message}", exc.http_status)
    return page(request, "merchant_applied.html", {"a": applications.applicant_view(row)})


@router.get("/merchant/apply/status", response_class=HTMLResponse)
def status_form(request: Request) -> HTMLResponse:
    return page(request, "merchant_apply_status.html", {"a": None, "error": ""})


@router.post("/merchant/apply/status", response_class=HTMLResponse)
def status(
    request: Request, p: PlatformDep, application_no: Field = "", contact_phone: Field = ""
) -> HTMLResponse:
    try:
        row = applications.status_for_applicant(p, application_no, contact_phone)
    except QianbaoError as exc:
        missing: dict[str, Any] = {"a": None, "error": exc.message}
        return page(request, "merchant_apply_status.html", missing, exc.http_status)
    found: dict[str, Any] = {"a": applications.applicant_view(row), "error": ""}
    return page(request, "merchant_apply_status.html", found)


# --- activation and sign-in ----------------------------------------------------------------
@router.get("/merchant/activate", response_class=HTMLResponse)
def activate_form(request: Request, code: str = "") -> HTMLResponse:
    context = {"code": code[:64], "error": "", "api_key": ""}
    return page(request, "merchant_activate.html", context)


@router.post("/merchant/activate", response_class=HTMLResponse)
def activate(
    request: Request,
    p: PlatformDep,
    code: Field = "",
    password: Field = "",
    password_again: Field = "",
) -> HTMLResponse:
    context: dict[str, Any] = {"code": code[:64], "api_key": ""}
    if password != password_again:
        context["error"] = "the two passwords differ 两次密码不一致"
        return page(request, "merchant_activate.html", context, 400)
    try:
        context["api_key"] = logins.activate(p, code, password)
    except QianbaoError as exc:
        context["error"] = f"{exc.code}: {exc.message}"
        return page(request, "merchant_activate.html", context, exc.http_status)
    context["error"] = ""
    return page(request, "merchant_activate.html", context)


@router.post("/merchant/signin")
def sign_in(request: Request, p: PlatformDep, email: Field = "", password: Field = "") -> Response:
    try:
        cookie = logins.sign_in(p, email, password, client_of(request).ip)
    except QianbaoError as exc:
        context = {"merchant": {"id": None, "name": ""}, "error": exc.message}
        return page(request, "trades_merchant.html", context, exc.http_status)
    response = RedirectResponse("/merchant", status_code=303)
    set_cookie(response, MERCHANT_COOKIE, cookie, p.settings, samesite="strict")
    return response


@router.post("/merchant/signout")
def sign_out() -> Response:
    response = RedirectResponse("/merchant", status_code=303)
    response.delete_cookie(MERCHANT_COOKIE)
    return response


# --- the merchant's open-platform apps -----------------------------------------------------
def _apps_page(
    request: Request, p: Platform, merchant_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = {
        "merchant": members.get_merchant(p, merchant_id),
        "apps": [apps.public_app(a) for a in apps.list_apps(p, merchant_id)],
        "sandbox": not p.settings.production,
        "error": "",
        "notice": "",
        "sandbox_creds": None,
        **extra,
    }
    return page(request, "merchant_apps.html", context, status)


def _signed_in(p: Platform, cookie: str | None) -> str | Response:
    merchant_id = _merchant_of(p, cookie)
    return merchant_id or RedirectResponse("/merchant", status_code=303)


@router.get("/merchant/apps", response_class=HTMLResponse)
def apps_page(request: Request, p: PlatformDep, qb_merchant: MerchantCookie = None) -> Response:
    merchant_id = _signed_in(p, qb_merchant)
    if isinstance(merchant_id, Response):
        return merchant_id
    return _apps_page(request, p, merchant_id)


@router.post("/merchant/apps", response_class=HTMLResponse)
def create_app(
    request: Request,
    p: PlatformDep,
    name: Field = "",
    public_key: Annotated[str, Form(max_length=apps.PEM_MAX_CHARS)] = "",
    notify_url: Annotated[str, Form(max_length=256)] = "",
    qb_merchant: MerchantCookie = None,
) -> Response:
    merchant_id = _signed_in(p, qb_merchant)
    if isinstance(merchant_id, Response):
        return merchant_id
    try:
        app = apps.create_app(p, merchant_id, name, public_key.replace("\r\n", "\n"), notify_url)
    except QianbaoError as exc:
        return _apps_page(
            request, p, merchant_id, exc.http_status, error=f"{exc.code}: {exc.message}"
        )
    return _apps_page(request, p, merchant_id, notice=f"app {app['app_id']} created")


@router.post("/merchant/apps/{app_id}/notify-url", response_class=HTMLResponse)
def set_notify_url(
    app_id: str,
    request: Request,
    p: PlatformDep,
    notify_url: Annotated[str, Form(max_length=256)] = "",
    qb_merchant: MerchantCookie = None,
) -> Response:
    merchant_id = _signed_in(p, qb_merchant)
    if isinstance(merchant_id, Response):
        return merchant_id
    try:
        apps.set_notify_url(p, merchant_id, app_id[:40], notify_url)
    except QianbaoError as exc:
        return _apps_page(
            request, p, merchant_id, exc.http_status, error=f"{exc.code}: {exc.message}"
        )
    return _apps_page(request, p, merchant_id, notice=f"notify URL of {app_id[:40]} saved")


@router.post("/merchant/apps/sandbox", response_class=HTMLResponse)
def sandbox_app(request: Request, p: PlatformDep, qb_merchant: MerchantCookie = None) -> Response:
    """Sandbox only: an app whose key pair the platform makes; its private key is shown once
    and not kept."""
    merchant_id = _signed_in(p, qb_merchant)
    if isinstance(merchant_id, Response):
        return merchant_id
    if p.settings.production:
        return _apps_page(request, p, merchant_id, 403, error="no sandbox apps in production")
    creds = apps.create_sandbox_app(p, merchant_id, "沙箱应用 Sandbox app")
    return _apps_page(request, p, merchant_id, sandbox_creds=creds)
