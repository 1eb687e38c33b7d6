"""The back office's users, merchants, books, dead messages and audit log over real HTTP
(TestClient on SQLite): each action changes what its service owns, once, and is audited with the
operator's reason; a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from qianbao.backoffice import audit
from qianbao.credit import reads
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.risk.errors import PartyFrozen
from tests.conftest import assert_ledger_clean, make_platform
from tests.credit.helpers import huabei_user
from tests.factories import PAY_PASSWORD, new_user
from tests.ops.helpers import signed_in
from tests.trades.helpers import new_merchant


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One platform for the tests that need no platform of their own (each uses its own users,
    merchant and operators): the platform's start is most of a test's time."""
    p = make_platform("sqlite", tmp_path_factory.mktemp("ops"))
    try:
        yield p
    finally:
        p.close()


def test_admin_finds_a_user_by_phone_and_freezes_then_unfreezes_the_wallet(shared):
    p = shared
    u, m = new_user(p, balance_fen=50_00), new_merchant(p)
    c, csrf = signed_in(p, "admin")
    phone = members.get_user(p, u)["phone"]
    page = c.get("/ops/users", params={"q": phone})
    assert page.status_code == 200 and f'id="user-id">{u}<' in page.text
    assert 'id="balance">50.00' in page.text and 'id="wallet-freeze">none' in page.text
    url = f"/ops/users/{u}/wallet-freeze"
    blank = c.post(url, data={"csrf_token": csrf, "reason": " ", "frozen": "true"})
    assert blank.status_code == 400 and "REASON_REQUIRED" in blank.text
    done = c.post(url, data={"csrf_token": csrf, "reason": "stolen phone", "frozen": "true"})
    assert done.status_code == 200 and "FROZEN: stolen phone" in done.text  # redirected back
    again = c.post(url, data={"csrf_token": csrf, "reason": "twice", "frozen": "true"})
    assert again.status_code == 409  # frozen once
    with pytest.raises(PartyFrozen):
        payments.pay_merchant(p, u, m, 1_00, "frozen-pay", PAY_PASSWORD)
    c.post(url, data={"csrf_token": csrf, "reason": "phone found", "frozen": "false"})
    payments.pay_merchant(p, u, m, 1_00, "thawed-pay", PAY_PASSWORD)
    assert payments.balance(p, u)["balance_fen"] == 49_00
    assert_ledger_clean(p)
    rows = [audit.public(r) for r in audit.read(p, action="wallet-freeze")]
    rows = [r for r in rows if r["target"].get("user_id") == u]
    reasons = [(r["target"]["reason"], r["outcome"]) for r in rows]
    assert reasons == [("phone found", 303), ("twice", 409), ("stolen phone", 303), (" ", 400)]
    assert rows[0]["target"]["user_id"] == u and rows[0]["role"] == "admin"


def test_risk_freezes_huabei_but_may_not_freeze_a_wallet(shared):
    p = shared
    u = huabei_user(p)
    c, csrf = signed_in(p, "risk")
    wallet = c.post(f"/ops/users/{u}/wallet-freeze", data={"csrf_token": csrf, "reason": "x"})
    assert wallet.status_code == 403
    url = f"/ops/users/{u}/huabei-freeze"
    done = c.post(url, data={"csrf_token": csrf, "reason": "fraud ring", "frozen": "true"})
    assert done.status_code == 200 and "Thaw Huabei" in done.text
    assert reads.summary(p, u)["status"] == "FROZEN"
    c.post(url, data={"csrf_token": csrf, "reason": "cleared", "frozen": "false"})
    assert reads.summary(p, u)["status"] == "ACTIVE"


def test_a_merchant_contract_changes_only_when_all_of_it_is_valid(shared):
    p = shared
    m = new_merchant(p)
    name = members.get_merchant(p, m)["name"]
    c, csrf = signed_in(p, "risk")
    assert f'id="merchant-id">{m}<' in c.get("/ops/merchants", params={"q": name}).text
    url = f"/ops/merchants/{m}/contract"
    bad = {"csrf_token": csrf, "settle_cycle": "T1", "category": "casino", "reason": "r"}
    assert c.post(url, data=bad).status_code == 400
    assert members.get_merchant(p, m)["settle_cycle"] == "INSTANT"
    good = {**bad, "category": "medical"}
    page = c.post(url, data=good)
    assert 'id="settle-cycle">T1' in page.text and 'id="category">medical' in page.text
    assert c.get("/ops/merchants", params={"q": "nobody"}).status_code == 404


def test_books_show_the_check_and_close_a_day_once(shared):
    p = shared
    new_user(p, balance_fen=10_00)
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    c, csrf = signed_in(p, "finance")
    page = c.get("/ops/books")
    assert 'id="ledger-status">BALANCED' in page.text and 'id="day-closed">open' in page.text
    assert c.get("/ops/books", params={"day": "2999-01-01"}).status_code == 400
    assert c.get("/ops/books", params={"day": "nope"}).status_code == 400
    for _ in range(2):
        page = c.post("/ops/books/close", data={"csrf_token": csrf, "day": yesterday})
        assert page.status_code == 200 and 'id="day-closed">closed' in page.text
    assert page.text.count(f'class="closed-day">{yesterday}') == len(p.units)
    support, support_csrf = signed_in(p, "support")
    denied = support.post("/ops/books/close", data={"csrf_token": support_csrf, "day": yesterday})
    assert denied.status_code == 403


def test_a_dead_message_is_shown_and_requeued_once(tmp_path):
    p = make_platform("sqlite", tmp_path, message_max_attempts=2)
    p.relay.stop()
    real = p.relay.handlers["transfer.credit"]
    p.relay.handlers["transfer.credit"] = lambda ctx, payload: 1 / 0
    try:
        a, b = new_user(p, unit=0, balance_fen=5_000), new_user(p, unit=1)
        payments.transfer(p, a, b, 900, "dead-ops-1", PAY_PASSWORD)
        for _ in range(4):
            p.relay.drain()
        [dead] = p.relay.dead()
        c, csrf = signed_in(p, "finance")
        listing = c.get("/ops/messages")
        assert dead["id"] in listing.text and "transfer.credit" in listing.text
        one = c.get(f"/ops/messages/{dead['id']}")
        assert 'id="message-attempts">2<' in one.text and "amount_fen&#34;: 900" in one.text
        assert c.get("/ops/messages/nope").status_code == 404
        auditor, auditor_csrf = signed_in(p, "auditor")
        url = f"/ops/messages/{dead['id']}/requeue"
        assert (
            auditor.post(url, data={"csrf_token": auditor_csrf, "reason": "r"}).status_code == 403
        )
    finally:
        p.relay.handlers["transfer.credit"] = real
    assert c.post(url, data={"csrf_token": csrf, "reason": "consumer fixed"}).status_code == 200
    assert c.post(url, data={"csrf_token": csrf, "reason": "again"}).status_code == 404
    p.relay.drain()
    assert payments.balance(p, b)["balance_fen"] == 900 and p.relay.dead() == []
    assert_ledger_clean(p)
    p.close()


def test_the_audit_log_filters_and_pages(platform):
    p = platform
    c, _ = signed_in(p, "auditor")
    for _ in range(3):
        c.get("/ops/users", params={"q": "x"})
    page = c.get("/ops/audit", params={"action": "/ops/users"})
    assert page.status_code == 200 and page.text.count('class="entry"') == 3
    today = clock.today().isoformat()
    assert c.get("/ops/audit", params={"day": today, "action": "users"}).text.count('entry"') == 3
    assert c.get("/ops/audit", params={"day": "2001-01-01"}).text.count('class="entry"') == 0
    assert c.get("/ops/audit", params={"day": "bad"}).status_code == 400
    support, _ = signed_in(p, "support")
    assert support.get("/ops/audit").status_code == 403
