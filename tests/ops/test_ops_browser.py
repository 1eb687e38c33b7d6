"""The back office in a real headless Chromium: an operator signs in, finds a user by phone and
freezes the wallet (the user's payment is then refused) and unfreezes it; another requeues a
dead message made by a delivery that really failed; an auditor reads both in the audit log."""

from __future__ import annotations

import pytest

from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.risk.errors import PartyFrozen
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, new_user
from tests.http_server import serving
from tests.ops.helpers import operator_key
from tests.trades.helpers import new_merchant

pytestmark = pytest.mark.browser


def _sign_in(page, site: str, key: str, path: str) -> None:
    page.goto(f"{site}{path}")
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")


def test_an_operator_freezes_a_user_and_an_auditor_reads_it(sqlite_platform, site, page):
    p = sqlite_platform
    u, m = new_user(p, balance_fen=30_00), new_merchant(p)
    phone = members.get_user(p, u)["phone"]
    _sign_in(page, site, operator_key(p, "admin"), "/ops/users")
    page.fill("#q", phone)
    page.click("#find")
    assert page.inner_text("#user-id") == u and page.inner_text("#balance") == "30.00"
    assert page.inner_text("#wallet-freeze") == "none"
    page.fill("#wallet-reason", "账户被盗 account stolen")
    page.click("#wallet-toggle")
    page.wait_for_selector("#wallet-freeze:has-text('FROZEN')")
    assert "account stolen" in page.inner_text("#wallet-freeze")
    with pytest.raises(PartyFrozen):
        payments.pay_merchant(p, u, m, 2_00, "browser-frozen", PAY_PASSWORD)
    page.fill("#wallet-reason", "owner verified")
    page.click("#wallet-toggle")
    page.wait_for_selector("#wallet-freeze:has-text('none')")
    payments.pay_merchant(p, u, m, 2_00, "browser-thawed", PAY_PASSWORD)
    assert payments.balance(p, u)["balance_fen"] == 28_00
    page.click("#logout")
    _sign_in(page, site, operator_key(p, "auditor"), "/ops/audit")
    page.fill("#f-action", "wallet-freeze")
    page.click("#filter")
    rows = page.locator("tr.entry")
    assert rows.count() == 2
    assert "owner verified" in rows.nth(0).inner_text() and "303" in rows.nth(0).inner_text()
    assert "account stolen" in rows.nth(1).inner_text()
    assert_ledger_clean(p)


def test_an_operator_requeues_a_dead_message(tmp_path, page):
    p = make_platform("sqlite", tmp_path, message_max_attempts=2)
    p.relay.stop()
    real = p.relay.handlers["transfer.credit"]
    p.relay.handlers["transfer.credit"] = lambda ctx, payload: 1 / 0  # the consumer is broken
    try:
        a, b = new_user(p, unit=0, balance_fen=5_000), new_user(p, unit=1)
        payments.transfer(p, a, b, 1_200, "browser-dead", PAY_PASSWORD)
        for _ in range(4):
            p.relay.drain()
        [dead] = p.relay.dead()
        p.relay.handlers["transfer.credit"] = real  # the cause is fixed
        with serving(p) as site:
            _sign_in(page, site, operator_key(p, "finance"), "/ops/messages")
            row = page.locator("tr.dead")
            assert row.count() == 1 and "transfer.credit" in row.inner_text()
            assert "0 → 1" in row.inner_text()
            row.locator("a").click()
            assert page.inner_text("#message-attempts") == "2"
            page.fill("#requeue-reason", "consumer fixed")
            page.click("#requeue")
            page.wait_for_selector("#no-dead")
        p.relay.drain()
        assert p.relay.dead() == [] and payments.balance(p, b)["balance_fen"] == 1_200
        assert dead["id"] not in {m["id"] for m in p.relay.pending(0, "DEAD")}
        assert_ledger_clean(p)
    finally:
        p.relay.handlers["transfer.credit"] = real
        p.close()
