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
