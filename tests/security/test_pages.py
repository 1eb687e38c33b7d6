"""Pages (issue 11, item 6): CSRF tokens on every form, cookie flags, security headers, and a
cashier page that shows a trade only to its buyer or to the holder of its pay link."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from qianbao.api.security import CSRF_COOKIE
from qianbao.bootstrap import open_platform
from qianbao.members import credentials
from qianbao.members import service as members
from qianbao.payments import paylinks, trades
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean, fast_settings
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user, page_csrf
from tests.trades.helpers import balance, req

FORM_ACTIONS = re.compile(r'<form method="post"[^>]*>\s*<input type="hidden" name="csrf_token"')


@pytest.fixture
def shop(sqlite_platform):
    p = sqlite_platform
    merchant, key = members.create_merchant(p, "Page Shop")
    buyer = new_user(p, balance_fen=100_00)
    trade = trades.create(p, req(merchant["id"], 12_34, subject="秘密 Secret item"), buyer)
    return {
        "p": p,
        "c": TestClient(build_app(p)),
        "merchant": merchant["id"],
        "key": key,
        "buyer": buyer,
        "phone": members.get_user(p, buyer)["phone"],
        "trade": trade["id"],
    }


def _log_in(c, phone: str, csrf: str) -> None:
    answer = c.post(
        "/cashier/login",
        data={"phone": phone, "password": LOGIN_PASSWORD, "next": "/cashier/", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_the_cashier_shows_a_trade_only_to_its_buyer_or_a_pay_link_holder(shop):
    """A visitor who was not logged in used to see any trade's subject, merchant, amount and
    status by walking the time-ordered trade numbers."""
    p, c, trade = shop["p"], shop["c"], shop["trade"]
    for path in (
        f"/cashier/t/{trade}",
        f"/cashier/t/{trade}?k=" + "0" * 32,
        f"/cashier/t/{trade}?k=" + paylinks.token(p, str(int(trade) + 1)),
    ):
        page = c.get(path)
        assert page.status_code == 200
        assert "Secret item" not in page.text and "12.34" not in page.text, path
        assert "Page Shop" not in page.text and 'id="login-form"' in page.text
    assert "Secret item" in c.get(paylinks.path(p, trade)).text  # the pay link's holder
    stranger = new_user(p)
    _log_in(c, members.get_user(p, stranger)["phone"], page_csrf(c, f"/cashier/t/{trade}"))
    refused = c.get(paylinks.path(p, trade)).text  # a logged-in stranger, even with the link
    assert "Secret item" not in refused and "another buyer" in refused
    c.cookies.clear()
    _log_in(c, shop["phone"], page_csrf(c, f"/cashier/t/{trade}"))
    mine = c.get(f"/cashier/t/{trade}").text  # the buyer, no link needed
    assert "Secret item" in mine and 'id="pay-form"' in mine
    assert len(paylinks.token(p, trade)) == 32 and paylinks.valid(
        p, trade, paylinks.token(p, trade)
    )


def test_every_post_form_carries_a_csrf_token(shop):
    c = shop["c"]
    login_page = c.get(paylinks.path(shop["p"], shop["trade"])).text
    assert len(FORM_ACTIONS.findall(login_page)) == login_page.count('<form method="post"') == 1
    c.cookies.set("qb_merchant", credentials.web_session(shop["p"], shop["key"]))
    trades.pay(shop["p"], shop["trade"], shop["buyer"], PAY_PASSWORD)
    merchant_page = c.get("/merchant").text
    forms = merchant_page.count('<form method="post"')
    assert forms >= 1 and len(FORM_ACTIONS.findall(merchant_page)) == forms


def test_a_form_without_its_token_changes_nothing(shop):
    p, c = shop["p"], shop["c"]
    trades.pay(p, shop["trade"], shop["buyer"], PAY_PASSWORD)
    c.cookies.set("qb_merchant", credentials.web_session(shop["p"], shop["key"]))
    refund = f"/merchant/trades/{shop['trade']}/refund"
    token = page_csrf(c, "/merchant")
    for data, headers in (
        ({"amount": "1.00"}, {}),  # no token: what a cross-site form would post
        ({"amount": "1.00", "csrf_token": "f" * 64}, {}),  # a made-up token
        ({"amount": "1.00", "csrf_token": token}, {"origin": "https://evil.example"}),
        ({"amount": "1.00", "csrf_token": token}, {"sec-fetch-site": "cross-site"}),
    ):
        answer = c.post(refund, data=data, headers=headers)
        assert answer.status_code == 403 and answer.json()["code"] == "CSRF_TOKEN_INVALID"
    assert trades.get_trade(p, shop["trade"])["refunded_fen"] == 0
    other = TestClient(build_app(p))  # another browser: its own cookie, so this token is stale
    other.cookies.set("qb_merchant", credentials.web_session(p, shop["key"]))
    other.get("/merchant")
    stale = other.post(refund, data={"amount": "1.00", "csrf_token": token})
    assert stale.status_code == 403
    done = c.post(refund, data={"amount": "1.00", "csrf_token": token})
    assert done.status_code == 200 and "refunded 1.00" in done.text
    assert trades.get_trade(p, shop["trade"])["refunded_fen"] == 100
    login = c.post("/cashier/login", data={"phone": shop["phone"], "password": LOGIN_PASSWORD})
    assert login.status_code == 403  # login CSRF too: no session is planted
    assert balance(p, shop["buyer"]) == 100_00 - 12_34 + 100
    assert_ledger_clean(p)


def test_cookies_are_httponly_samesite_and_not_secure_in_the_sandbox(shop):
    c = shop["c"]
    csrf = page_csrf(c, f"/cashier/t/{shop['trade']}")
    answer = c.post(
        "/cashier/login",
        data={"phone": shop["phone"], "password": LOGIN_PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    cookies = answer.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"qb_user", "qb_device"}
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    first = TestClient(build_app(shop["p"])).get("/merchant").headers["set-cookie"]
    assert first.startswith(CSRF_COOKIE) and "HttpOnly" in first and "SameSite=Lax" in first


def test_production_cookies_are_secure_and_headers_are_set(tmp_path):
    p = open_platform(
        fast_settings(tmp_path, env="production", secret_key="p" * 40, bank_channel="simulator")
    )
    try:
        c = TestClient(build_app(p), base_url="https://testserver")  # Secure cookies need https
        page = c.get("/merchant")
        assert "Secure" in page.headers["set-cookie"]
        assert page.headers["strict-transport-security"].startswith("max-age=")
        merchant, key = members.create_merchant(p, "Prod Page Shop")
        login = c.post(
            "/merchant/login",
            data={"api_key": key, "csrf_token": page_csrf(c, "/merchant")},
            follow_redirects=False,
        )
        assert login.status_code == 303
        session = login.headers["set-cookie"]
        assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
    finally:
        p.close()


def test_security_headers_on_pages_api_and_docs(shop):
    c = shop["c"]
    for path in ("/", "/merchant", f"/cashier/t/{shop['trade']}", "/healthz", "/api/v1/me"):
        headers = c.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers  # the sandbox is plain http
    page_csp = c.get("/merchant").headers["content-security-policy"]
    assert "script-src 'none'" in page_csp and "form-action 'self'" in page_csp
    docs = c.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-security-policy"] == (
        "frame-ancestors 'none'"
    )


def test_the_merchant_centre_cookie_is_a_signed_reference_not_the_key(shop):
    p, c = shop["p"], shop["c"]
    login = c.post(
        "/merchant/login",
        data={"api_key": shop["key"], "csrf_token": page_csrf(c, "/merchant")},
        follow_redirects=False,
    )
    cookie = c.cookies["qb_merchant"]
    assert login.status_code == 303 and shop["key"].partition(".")[2] not in cookie
    assert 'id="balance"' in c.get("/merchant").text
    key_id, issued, mac = cookie.split(".")
    c.cookies.set("qb_merchant", f"{key_id}.{int(issued) + 1}.{mac}")  # tampered
    assert 'id="merchant-login"' in c.get("/merchant").text
    c.cookies.set("qb_merchant", cookie)
    credentials.revoke_any(p, key_id)  # the key's revocation ends the web session too
    assert 'id="merchant-login"' in c.get("/merchant").text
