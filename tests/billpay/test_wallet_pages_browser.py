"""The wallet's bill-payment and card-transfer pages in a real headless Chromium."""

from __future__ import annotations

import pytest

from qianbao.members import service as members
from tests.billpay.helpers import account_with_bills, water
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.moneyout.helpers import fresh_card
from tests.trades.helpers import balance

pytestmark = pytest.mark.browser


def test_a_user_pays_a_bill_and_transfers_to_a_card(sqlite_platform, site, page):
    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, 63_20)
    user = new_user(p, balance_fen=300_00)
    page.goto(f"{site}/wallet/bills")
    page.fill("#phone", members.get_user(p, user)["phone"])
    page.fill("#password", LOGIN_PASSWORD)
    page.click("#login")
    page.wait_for_selector("#lookup-form")
    assert page.inner_text("#balance") == "¥300.00"
    page.fill("#account", acct)
    page.click("#lookup")
    page.wait_for_selector("#bills")
    assert "¥63.20" in page.inner_text("#bills")
    page.fill(".pay-password", "000000")  # wrong first: nothing moves, the page says why
    page.click(".pay")
    assert "WRONG_PAY_PASSWORD" in page.inner_text("#error-code")
    assert balance(p, user) == 300_00
    page.go_back()
    page.fill(".pay-password", PAY_PASSWORD)
    page.click(".pay")
    page.wait_for_selector("#receipt")
    assert page.inner_text("#status") == "SUCCEEDED"
    assert page.inner_text("#receipt-no").startswith("R" + biller)
    assert balance(p, user) == 300_00 - 63_20
    page.click("#back")
    page.fill("#account", acct)
    page.click("#lookup")
    assert "No unpaid bills" in page.inner_text("#bills")
    assert "SUCCEEDED" in page.inner_text("#history")

    page.goto(f"{site}/wallet/card-transfer")
    assert page.inner_text("#free-left") == "¥20000.00"
    page.fill("#card-no", fresh_card())
    page.fill("#holder", "李四")
    page.fill("#amount", "100.50")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#transfer")
    page.wait_for_selector("#transfer")
    assert page.inner_text("#status") == "SUCCEEDED" and page.inner_text("#fee") == "¥0.00"
    page.go_back()  # the same form again (same request id): paid once
    page.reload()
    assert balance(p, user) == 300_00 - 63_20 - 100_50


def test_a_merchant_pays_out_from_the_merchant_centre(sqlite_platform, site, page):
    from qianbao.payments import service as payments
    from tests.trades.helpers import merchant_fen

    p = sqlite_platform
    merchant, api_key = members.create_merchant(p, "页面提现商户")
    buyer = new_user(p, balance_fen=100_00)
    payments.pay_merchant(p, buyer, merchant["id"], 80_00, "page-pay", PAY_PASSWORD)
    held = merchant_fen(p, merchant["id"])
    page.goto(f"{site}/merchant")
    page.fill("#api-key", api_key)
    page.click("#login")
    page.click("#payouts-link")
    page.wait_for_selector("#payout-form")
    page.fill("#amount", "10.00")
    page.click("#payout")
    assert "PAYOUT_ACCOUNT_MISSING" in page.inner_text("#error-code")
    page.fill("#account-no", fresh_card())
    page.fill("#holder", "页面提现商户")
    page.check("#auto")
    page.click("#save-account")
    assert "auto: on" in page.inner_text("#account")
    page.fill("#amount", "30.00")
    page.click("#payout")
    assert "SUCCEEDED" in page.inner_text("#notice")
    assert "¥30.00" in page.inner_text("#payouts")
    assert merchant_fen(p, merchant["id"]) == held - 30_00
