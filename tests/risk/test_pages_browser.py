"""The risk console's case queue and a decision's detail in a real headless Chromium."""

from __future__ import annotations

import pytest

from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.risk import service as risk
from qianbao.risk.errors import RiskRejected
from tests.factories import PAY_PASSWORD, new_user, operator_headers
from tests.http_server import serving
from tests.trades.helpers import new_merchant

pytestmark = pytest.mark.browser


def test_an_operator_finds_a_rejection_in_the_queue_and_reads_why(sqlite_platform, page):
    p = sqlite_platform
    m, u = new_merchant(p), new_user(p, balance_fen=100_00)
    risk.put_list_entry(p, "block", "device", "stolen-9", "reported stolen", "op")
    with use(RequestContext(device_id="stolen-9", ip="10.1.1.1")), pytest.raises(RiskRejected):
        payments.pay_merchant(p, u, m, 12_00, "pg1", PAY_PASSWORD)
    key = operator_headers(p, "auditor")["Authorization"].removeprefix("Bearer ")
    with serving(p) as site:
        page.goto(f"{site}/ops/risk/cases")
        page.fill("input[name=api_key]", "ok_wrong.key")
        page.click("button[type=submit]")
        assert "unknown" in page.inner_text("#error")
        page.fill("input[name=api_key]", key)
        page.click("button[type=submit]")
        page.wait_for_selector("#cases")
        row = page.locator("tr.case").first
        assert "PAY 1200 fen rejected" in row.inner_text() and "OPEN" in row.inner_text()
        row.locator("a").click()
        page.wait_for_selector("#outcome")
        assert page.inner_text("#outcome") == "REJECT"
        assert "list:block" in page.inner_text("#reasons") and "stolen-9" in page.inner_text(
            "#reasons"
        )
        assert '"device_id": "stolen-9"' in page.inner_text("#inputs")
        page.goto(f"{site}/ops/risk/decisions/123")
        assert page.inner_text("#error")
