"""Merchant onboarding in a real headless Chromium: a merchant applies, an operator approves,
the merchant activates, signs in, creates an app with its own RSA key and takes a first signed
gateway call; a rejected application cannot sign in."""

from __future__ import annotations

import uuid

import pytest

from qianbao.payments import codes
from tests.conftest import assert_ledger_clean
from tests.factories import new_user, operator_headers
from tests.onboarding.helpers import MERCHANT_PASSWORD, form_values, private_pem, public_pem
from tests.trades.conftest import load_example_client

pytestmark = pytest.mark.browser


def _apply(page, site: str, values: dict[str, str]) -> str:
    page.goto(f"{site}/merchant/apply")
    for field, value in values.items():
        if field == "category":
            page.select_option("#category", value)
        else:
            page.fill(f"#{field}", value)
    page.click("#apply")
    page.wait_for_selector("#application-no")
    assert page.inner_text("#application-status") == "SUBMITTED"
    return page.inner_text("#application-no")


def _operator_opens(page, site: str, key: str, application_no: str) -> None:
    page.goto(f"{site}/ops/merchant-applications?status=SUBMITTED")
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    page.wait_for_selector("#applications")
    page.click(f"text={application_no}")
    page.wait_for_selector("#application")


def _sign_in(page, site: str, email: str, password: str) -> None:
    page.goto(f"{site}/merchant")
    page.fill("#signin-email", email)
    page.fill("#signin-password", password)
    page.click("#signin")


def test_apply_approve_activate_sign_in_create_an_app_and_call_the_gateway(
    sqlite_platform, site, page
):
    p = sqlite_platform
    values = form_values()
    application_no = _apply(page, site, values)
    admin_key = operator_headers(p, "admin")["Authorization"].removeprefix("Bearer ")
    _operator_opens(page, site, admin_key, application_no)
    masked = page.inner_text("#bank-account")
    assert values["bank_account_no"][-4:] in masked and values["bank_account_no"] not in masked
    page.click("#approve")
    page.wait_for_selector("#activation-link")
    link = page.inner_text("#activation-link").strip()
    assert page.inner_text("#application-status") == "APPROVED"

    page.goto(link)
    page.fill("#new_password", MERCHANT_PASSWORD)
    page.fill("#new_password_again", MERCHANT_PASSWORD)
    page.click("#activate")
    page.wait_for_selector("#activated")
    assert page.inner_text("#api-key-once").startswith("mk_")
    page.goto(link)  # the code works once
    page.fill("#new_password", MERCHANT_PASSWORD)
    page.fill("#new_password_again", MERCHANT_PASSWORD)
    page.click("#activate")
    assert "ACTIVATION_CODE_INVALID" in page.inner_text("#error")

    _sign_in(page, site, values["contact_email"], MERCHANT_PASSWORD)
    page.wait_for_selector("#apps-link")
    cookie = next(c for c in page.context.cookies() if c["name"] == "qb_merchant")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.click("#apps-link")
    weak_key, weak_pem = public_pem(1024)
    page.fill("#app_name", "收银 POS")
    page.fill("#app_public_key", weak_pem)
    page.click("#create-app")
    assert "APP_KEY_INVALID" in page.inner_text("#error")
    key, pem = public_pem()
    page.fill("#app_name", "收银 POS")
    page.fill("#app_public_key", pem)
    page.click("#create-app")
    page.wait_for_selector("#notice")
    app_id = page.inner_text("tr.app .app-id").strip()
    platform_key = page.locator("tr.app pre.platform-key").first.text_content() or ""
    page.fill("tr.app input[name=notify_url]", "ftp://user:pw@example.com/notify")
    page.click("tr.app .notify-form button")
    assert "INVALID_NOTIFY_URL" in page.inner_text("#error")  # openapi/outbound.py's guard
    page.fill("tr.app input[name=notify_url]", "http://127.0.0.1:9/notify")  # sandbox: allowed
    page.click("tr.app .notify-form button")
    assert "saved" in page.inner_text("#notice")
    _first_gateway_call(p, site, app_id, private_pem(key), platform_key)


def _first_gateway_call(p, site: str, app_id: str, private: str, platform_key: str) -> None:
    client = load_example_client().GatewayClient(
        f"{site}/gateway.do", app_id, private, platform_key
    )
    buyer = new_user(p, balance_fen=50_00, password_free_fen=20_00)
    code = str(codes.issue_payment_code(p, buyer)["code"])
    biz = {
        "out_trade_no": f"first-{uuid.uuid4().hex[:8]}",
        "total_amount": "8.80",
        "subject": "第一单 First sale",
        "scene": "bar_code",
        "auth_code": code,
    }
    paid = client.call("qianbao.trade.pay", biz)
    assert paid["code"] == "10000" and paid["_verified"], paid
    seen = client.call("qianbao.trade.query", {"out_trade_no": biz["out_trade_no"]})
    assert seen["trade_status"] == "TRADE_SUCCESS" and seen["trade_no"] == paid["trade_no"]
    assert_ledger_clean(p)


def test_a_rejected_application_cannot_sign_in(sqlite_platform, site, page):
    p = sqlite_platform
    values = form_values()
    application_no = _apply(page, site, values)
    key = operator_headers(p, "risk")["Authorization"].removeprefix("Bearer ")
    _operator_opens(page, site, key, application_no)
    page.fill("#reject_reason", "执照模糊 licence photo unreadable")
    page.click("#reject")
    page.wait_for_selector("#reject-reason")
    assert page.inner_text("#application-status") == "REJECTED"
    page.goto(f"{site}/merchant/apply/status")
    page.fill("#application_no", application_no)
    page.fill("#status_phone", values["contact_phone"])
    page.click("#lookup")
    assert page.inner_text("#application-status") == "REJECTED"
    assert "unreadable" in page.inner_text("#reject-reason")
    _sign_in(page, site, values["contact_email"], MERCHANT_PASSWORD)
    assert "wrong email or password" in page.inner_text("#error")
    assert not [c for c in page.context.cookies() if c["name"] == "qb_merchant"]
