"""The wallet in a real headless Chromium: a user logs in, sees the balance, tops up from the
bound card, transfers to another user (a second submit of the same form pays once), pays a
merchant, opens the payment code and downloads the statement as CSV; the books still balance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qianbao.payments import codes, trades
from tests.browser import wallet_login
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import balance, merchant_fen, new_merchant
from tests.wallet.helpers import phone_of

pytestmark = pytest.mark.browser


def test_a_user_tops_up_transfers_pays_and_reads_the_statement(sqlite_platform, site, page):
    p = sqlite_platform
    user, friend = new_user(p, balance_fen=200_00), new_user(p)
    merchant = new_merchant(p)
    wallet_login(page, site, phone_of(p, user))
    page.wait_for_selector("#wallet-menu")
    assert page.inner_text("#available") == "¥200.00"
    assert "topup" in page.inner_text("#recent")

    page.click("#go-topup")  # top up from the bound card
    page.fill("#topup-amount", "50.00")
    page.click("#topup-submit")
    page.wait_for_selector("#bank-order")
    assert page.inner_text("#status") == "SUCCEEDED" and balance(p, user) == 250_00

    page.click("#menu-transfer")  # transfer, then send the very same form again
    request_id = page.get_attribute("input[name=request_id]", "value")
    page.fill("#to-phone", phone_of(p, friend))
    page.fill("#amount", "30.50")
    page.fill("#memo", "午饭 Lunch")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#transfer")
    page.wait_for_selector("#transfer-receipt")
    first = page.inner_text("#transfer-id")
    page.goto(f"{site}/wallet/transfer")
    page.eval_on_selector("input[name=request_id]", "(el, v) => el.value = v", request_id)
    page.fill("#to-phone", phone_of(p, friend))
    page.fill("#amount", "30.50")
    page.fill("#memo", "午饭 Lunch")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#transfer")
    page.wait_for_selector("#transfer-receipt")
    assert page.inner_text("#transfer-id") == first  # the same transfer: paid once
    p.relay.drain()  # across units the credit is booked when its message arrives
    assert balance(p, user) == 219_50 and balance(p, friend) == 30_50

    page.click("#menu-pay")  # pay a merchant chosen from the list
    page.select_option("#merchant", merchant)
    page.fill("#amount", "19.50")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#pay")
    page.wait_for_selector("#trade")
    assert page.inner_text("#status") == trades.TRADE_SUCCESS
    assert balance(p, user) == 200_00 and merchant_fen(p, merchant) > 0
    page.click("#menu-trades")
    assert "19.50" in page.inner_text("#trades")

    page.click("#menu-pay-code")  # the payment code: 18 digits, its QR, renewed every 60 s
    code = page.inner_text("#pay-code")
    assert re.fullmatch(r"28\d{16}", code) and codes.buyer_of_code(p, code) == user
    assert page.locator("#pay-code-qr svg").count() == 1
    assert page.get_attribute("meta[http-equiv=refresh]", "content") == "60"

    page.click("#menu-statement")  # the statement: money out only, then as CSV
    page.select_option("#direction", "out")
    page.click("#apply")
    page.wait_for_selector("#lines")
    assert page.locator("#lines .line").count() == 2  # the transfer and the payment
    with page.expect_download() as download:
        page.click("#csv")
    assert download.value.suggested_filename.startswith("qianbao-statement")
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    rows = text.strip().split("\r\n")
    assert rows[0].startswith("time,kind,ref,memo,amount_yuan,amount_fen")
    assert len(rows) == 3 and any(",-30.50,-3050,219.50,21950" in r for r in rows)
    assert_ledger_clean(p)
