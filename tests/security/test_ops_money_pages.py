"""The back office's money actions in a real headless Chromium: operator A (finance) proposes
booking a reconciliation difference to suspense and cannot approve it, operator B approves it,
the ledger is clean and the difference resolved; a compensation proposed by support and
approved by finance; a merchant notification resent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qianbao.channels import reconcile as recon
from qianbao.openapi import notify
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean
from tests.http_server import serving
from tests.security.ops_helpers import DAY, disputed_trade, operator_key, stray_charge_day
from tests.trades.helpers import account_fen, balance

pytestmark = pytest.mark.browser


@pytest.fixture
def second_page(browser: Any) -> Iterator[Any]:
    """Another operator's browser (its own cookies)."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def _sign_in(page: Any, site: str, key: str, path: str) -> None:
    page.goto(site + path)
    page.fill("input[name=api_key]", key)
    page.click("form[action='/ops/login'] button")
    page.wait_for_selector("#ops-nav")


def _approve_first_pending(page: Any, site: str) -> None:
    page.goto(f"{site}/ops/approvals")
    page.locator("tr.approval a").first.click()
    page.click("#approve")
    page.wait_for_selector("#result")


def test_a_difference_is_resolved_by_two_operators(sqlite_platform, page, second_page):
    p = sqlite_platform
    try:
        stray_charge_day(p)
        with serving(p) as site:
            _sign_in(page, site, operator_key(p, "finance"), "/ops/recon")
            page.select_option("#run-channel", "SIMBANK")
            page.fill("#run-day", DAY.isoformat())
            page.click("#run")
            assert page.inner_text("#field-status") == "DIFFERENCES"
            page.goto(f"{site}/ops/recon/SIMBANK/{DAY}")
            row = page.locator("#diff-stray-1")
            assert "BANK_ONLY" in row.inner_text()
            row.locator("input.reason").fill("stray card charge, booked to suspense")
            row.locator("button.propose-suspense").click()
            assert page.inner_text("#field-status") == "PENDING"
            approval = page.inner_text("#field-approval_id")
            page.goto(f"{site}/ops/approvals/{approval}")
            assert page.locator("#approve").count() == 0  # A cannot approve their own
            assert "another operator" in page.inner_text("#cannot-decide")
            assert account_fen(p, "suspense", 0) == 0

            _sign_in(second_page, site, operator_key(p, "finance"), "/ops/approvals")
            _approve_first_pending(second_page, site)
            assert second_page.inner_text("#field-status") == "APPROVED"
            assert second_page.inner_text("#field-result_amount_fen") == "450"
            assert account_fen(p, "suspense", 0) == 450
            assert_ledger_clean(p)

            page.goto(f"{site}/ops/recon/SIMBANK/{DAY}")
            assert "suspense APPROVED" in page.inner_text("#diff-stray-1")
            recon.reconcile(p, "SIMBANK", DAY)  # re-run: the line is in our journal now
            page.goto(f"{site}/ops/recon/SIMBANK/{DAY}")
            assert page.locator("#diff-stray-1").count() == 0
    finally:
        clock.use_real_time()


def test_a_compensation_is_approved_and_a_notification_resent(sqlite_platform, page, second_page):
    p = sqlite_platform
    t = disputed_trade(p, 30_00, notify_url="http://127.0.0.1:9/notify")
    before = balance(p, t["buyer_id"])
    with serving(p) as site:
        _sign_in(page, site, operator_key(p, "support"), "/ops/disputes")
        page.fill("#find-trade", t["id"])
        page.click("#find")
        page.fill("#compensation-amount", "8.80")
        page.fill("#compensation-reason", "seller proven to have shipped an empty box")
        page.click("#propose-compensation")
        assert page.inner_text("#field-status") == "PENDING"
        _sign_in(second_page, site, operator_key(p, "finance"), "/ops/approvals")
        assert "¥8.80" in second_page.inner_text("#approvals")
        _approve_first_pending(second_page, site)
        assert second_page.inner_text("#field-status") == "APPROVED"
        assert balance(p, t["buyer_id"]) == before + 8_80
        assert_ledger_clean(p)

        notify.deliver_due(p)  # fails (nothing listens): the next try is minutes away
        [task] = notify.list_tasks(p, trade_id=t["id"])
        assert task["attempts"] >= 1 and task["next_at_ms"] > clock.now_ms()
        page.goto(f"{site}/ops/notifications?trade_id={t['id']}")
        page.locator(f"#notification-{task['id']} button.resend").click()
        assert page.inner_text("#field-status") == notify.PENDING
        assert page.inner_text("#field-id") == task["id"]
        assert notify.list_tasks(p, trade_id=t["id"])[0]["next_at_ms"] <= clock.now_ms()
