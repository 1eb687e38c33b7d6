"""The console home page lists the demo accounts and the ledger's state."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qianbao.demo import load_demo
from qianbao.server import build_app


def test_home_lists_demo_accounts(sqlite_platform):
    p = sqlite_platform
    demo, created = load_demo(p)
    assert created and load_demo(p) == (demo, False)  # loads once
    page = TestClient(build_app(p)).get("/")
    assert page.status_code == 200
    for user in demo["users"]:
        assert user["phone"] in page.text and user["pay_password"] in page.text
    assert demo["merchant"]["api_key"] in page.text
    assert 'id="ledger-ok">clean' in page.text
    assert "no day yet" in page.text and "none yet" in page.text


def test_home_shows_the_books_closed_and_reconciled(sqlite_platform):
    from datetime import timedelta

    from qianbao.channels import reconcile
    from qianbao.ledger import closing
    from qianbao.platform.clock import clock

    p = sqlite_platform
    yesterday = clock.today() - timedelta(days=1)
    closing.close_day(p, yesterday)
    reconcile.reconcile(p, "SIMBANK", yesterday)
    page = TestClient(build_app(p)).get("/")
    assert f"unit 1 <strong>{yesterday}</strong>" in page.text
    assert f"SIMBANK {yesterday}" in page.text and "balanced" in page.text
