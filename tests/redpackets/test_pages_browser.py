"""The wallet's red packet and notices pages in a real headless Chromium: Alice sends a random
group packet from the form, Bob opens it and claims, sees his share, and reads his notices."""

from __future__ import annotations

from datetime import datetime

import pytest

from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.redpackets import service as redpackets
from tests.conftest import assert_ledger_clean
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user

pytestmark = pytest.mark.browser


def _login(page, base: str, phone: str, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + path)
    page.fill("#phone", phone)
    page.fill("#password", LOGIN_PASSWORD)
    page.click("#login")


def test_send_and_claim_in_the_wallet(sqlite_platform: Platform, site: str, browser) -> None:  # type: ignore[no-untyped-def]
    p = sqlite_platform
    clock.set(datetime(2026, 3, 2, 12, 0))
    alice, bob = new_user(p, name="爱丽丝", balance_fen=100_000), new_user(p, unit=1)
    redpackets.create_group(p, alice, "周末羽毛球", [bob])
    phone = {u: members.get_user(p, u)["phone"] for u in (alice, bob)}

    page = browser.new_context().new_page()
    _login(page, site, phone[alice], "/wallet/red-packets")
    page.select_option("#group", label="周末羽毛球")
    page.fill("#amount", "6.66")
    page.fill("#shares", "2")
    page.fill("#message", "打球快乐")
    page.fill("#pay-password", PAY_PASSWORD)
    page.click("#send")
    assert page.inner_text("#message") == "打球快乐"
    assert page.inner_text("#total") == "¥6.66" and page.inner_text("#status") == "ACTIVE"
    packet_url = page.url

    bob_page = browser.new_context().new_page()
    _login(bob_page, site, phone[bob], packet_url.split(site, 1)[1])
    bob_page.click("#claim")
    got = bob_page.inner_text("#mine")
    assert got.startswith("你抢到了 You got ¥")
    amount_fen = int(got.rsplit("¥", 1)[1].replace(".", ""))
    assert 1 <= amount_fen <= 665
    p.relay.drain()
    assert payments.balance(p, bob)["balance_fen"] == amount_fen

    bob_page.goto(site + "/wallet/notices")
    bob_page.select_option("#language", "en")
    bob_page.click("#save-prefs")
    assert bob_page.locator("#language").input_value() == "en"
    bob_page.fill("#quiet-start", "25:00")
    bob_page.click("#save-prefs")
    assert "HH:MM" in bob_page.inner_text("#error")
    assert_ledger_clean(p)
