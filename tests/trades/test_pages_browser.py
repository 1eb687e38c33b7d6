"""The cashier and merchant pages in a real headless Chromium (Playwright, Debian's chromium)."""

from __future__ import annotations

import httpx
import pytest

from qianbao.members import service as members
from qianbao.payments import paylinks, trades
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.trades.helpers import balance, req

pytestmark = pytest.mark.browser


def _login(page, phone: str) -> None:
    page.fill("#phone", phone)
    page.fill("#password", LOGIN_PASSWORD)
    page.click("#login")


def test_buyer_pays_a_trade_end_to_end_through_the_cashier(sqlite_platform, site, page):
    p = sqlite_platform
    merchant, api_key = members.create_merchant(p, "浏览器咖啡")
    buyer = new_user(p, balance_fen=100_00)
    phone = members.get_user(p, buyer)["phone"]
    trade = trades.create(p, req(merchant["id"], 18_80, subject="拿铁 Latte"), buyer)

    page.goto(f"{site}/cashier/t/{trade['id']}")  # no pay link, not logged in: nothing shown
    assert page.query_selector("#trade") is None and "log in" in page.inner_text("#error")
    page.goto(site + paylinks.path(p, trade["id"]))  # the merchant's pay link shows the trade
    assert "拿铁 Latte" in page.inner_text("#trade")
    _login(page, phone)
    page.wait_for_selector("#pay-form")
    assert page.inner_text("#amount") == "¥18.80"
    page.fill("#pay-password", "000000")  # wrong first: nothing moves, the page says why
    page.click("#pay")
    assert "WRONG_PAY_PASSWORD" in page.inner_text("#error-code")
    page.click("text=Try again")
    page.check("#fund-balance")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#pay")
    assert "Payment successful" in page.inner_text("#result")
    assert page.inner_text("#status") == "TRADE_SUCCESS"
    assert trades.get_trade(p, trade["id"])["status"] == trades.TRADE_SUCCESS
    assert balance(p, buyer) == 100_00 - 18_80

    # a precreated order's QR link, then the card (quick pay) as funding
    order = trades.precreate(p, req(merchant["id"], 5_00, subject="司康 Scone"))
    page.goto(order["qr_code"].replace("http://127.0.0.1:8000", site))
    page.wait_for_selector("#pay-form")
    page.check("#fund-card-1")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#pay")
    assert "Payment successful" in page.inner_text("#result")
    assert balance(p, buyer) == 100_00 - 18_80  # the card paid

    # the merchant centre shows both trades, its QR, refunds one, and serves the bill
    page.goto(f"{site}/merchant")
    page.fill("#api-key", api_key)
    page.click("#login")
    page.wait_for_selector("#trades")
    rows = page.inner_text("#trades")
    assert "拿铁 Latte" in rows and "司康 Scone" in rows
    # the QR image loads after the page (slowly on a busy machine): wait for it, then measure
    page.wait_for_function("document.querySelector('#qr').complete")
    assert page.evaluate("document.querySelector('#qr').naturalWidth") > 100
    page.fill(f"form[action='/merchant/trades/{trade['id']}/refund'] input[name=amount]", "8.80")
    page.click(f"form[action='/merchant/trades/{trade['id']}/refund'] button")
    assert "refunded 8.80" in page.inner_text("#notice")
    assert balance(p, buyer) == 100_00 - 10_00
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    day = page.input_value("#bill-day")
    bill = httpx.get(f"{site}/merchant/bill.csv", params={"day": day}, cookies=cookies)
    assert bill.status_code == 200 and "拿铁 Latte" in bill.text and "TOTAL" in bill.text
