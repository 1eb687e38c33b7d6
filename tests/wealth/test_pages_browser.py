"""The Yu'e Bao wallet page and the cashier's Yu'e Bao choice in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date as D

import pytest

from qianbao.members import service as members
from qianbao.payments import trades
from qianbao.platform.runtime import Platform
from qianbao.wealth import service as yeb
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.http_server import serving
from tests.trades.helpers import req
from tests.trades.test_pages_browser import _login
from tests.wealth.helpers import at, end, publish, start

pytestmark = pytest.mark.browser
MON, TUE = D(2026, 6, 15), D(2026, 6, 16)


@pytest.fixture
def site(sqlite_yp: Platform) -> Iterator[str]:
    with serving(sqlite_yp) as base:
        yield base


def test_subscribe_on_the_wallet_page_then_pay_at_the_cashier(sqlite_yp, site, page) -> None:
    p = sqlite_yp
    at(MON, 10)
    user = new_user(p, balance_fen=100_00)
    phone = members.get_user(p, user)["phone"]
    page.goto(f"{site}/wallet/yuebao")
    _login(page, phone)
    page.wait_for_selector("#holdings")
    page.fill("#amount", "60.00")
    page.click("#subscribe")
    page.wait_for_selector("#done")
    assert "¥60.00" in page.inner_text("#pending")
    page.fill("#amount", "1.00")
    page.click("#redeem-fast")
    assert "YUEBAO_SHARES_NOT_ENOUGH" in page.inner_text("#error")  # still pending
    publish(p, {MON: "0.0000", TUE: "0.5000"})
    end(p, MON)
    start(p, TUE)
    at(TUE, 10)
    page.goto(f"{site}/wallet/yuebao")
    _login(page, phone)  # the business clock moved past the session's lifetime
    page.wait_for_selector("#holdings")
    assert "¥60.00" in page.inner_text("#value")
    merchant, _ = members.create_merchant(p, "余额宝咖啡")
    trade = trades.create(p, req(merchant["id"], 18_80, subject="拿铁 Latte"), user)
    page.goto(f"{site}/cashier/t/{trade['id']}")
    page.wait_for_selector("#pay-form")
    page.check("#fund-yuebao")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#pay")
    page.wait_for_selector("#result")
    assert "成功" in page.inner_text("#result")
    assert yeb.holdings(p, user)["shares_fen"] == 60_00 - 18_80
    assert_ledger_clean(p)
