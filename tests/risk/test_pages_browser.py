"""The risk console's case queue and a decision's detail in a real headless Chromium."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from qianbao.risk import service as risk
from qianbao.risk.errors import RiskRejected
from tests.factories import PAY_PASSWORD, new_user, operator_headers
from tests.trades.helpers import new_merchant

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _serve(p: Platform) -> Iterator[str]:
    import uvicorn

    from qianbao.api.app import create_app
    from qianbao.web import risk_pages
    from tests.http_server import free_port

    app = create_app(p, extra_routers=[risk_pages.router])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-sync"],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_an_operator_finds_a_rejection_in_the_queue_and_reads_why(sqlite_platform, page):
    p = sqlite_platform
    m, u = new_merchant(p), new_user(p, balance_fen=100_00)
    risk.put_list_entry(p, "block", "device", "stolen-9", "reported stolen", "op")
    with use(RequestContext(device_id="stolen-9", ip="10.1.1.1")), pytest.raises(RiskRejected):
        payments.pay_merchant(p, u, m, 12_00, "pg1", PAY_PASSWORD)
    key = operator_headers(p, "auditor")["Authorization"].removeprefix("Bearer ")
    for site in _serve(p):
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
