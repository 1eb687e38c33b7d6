"""The console home page names the demo data (never its secrets) and shows the ledger's state."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qianbao.demo import load_demo
from qianbao.server import build_app


def test_home_shows_no_secret_of_the_demo_accounts(sqlite_platform):
    """The public home page once printed every demo password and the admin operator's API key
    (issue 11): it now names the demo data and says where its credentials are."""
    p = sqlite_platform
    demo, created = load_demo(p)
    again, created_again = load_demo(p)
    assert created and not created_again  # loads once
    assert again["users"] == demo["users"] and again["merchant"] == demo["merchant"]
    assert "api_key" not in again["operator"]  # the operator's key is returned once, at creation
    page = TestClient(build_app(p)).get("/")
    assert page.status_code == 200
    assert 'id="demo-note">Demo data is loaded' in page.text
    secrets = [demo["merchant"]["api_key"], demo["operator"]["api_key"]]
    secrets += [demo["operator"]["api_key"].partition(".")[2]]
    for user in demo["users"]:
        secrets += [user["login_password"], user["pay_password"]]
    for secret in secrets:
        assert secret not in page.text
    stored = (p.settings.data_dir / "demo.json").read_text()
    assert demo["operator"]["api_key"] not in stored
    assert (p.settings.data_dir / "demo.json").stat().st_mode & 0o077 == 0
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
