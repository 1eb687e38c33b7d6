"""Signing operators in to the back office's pages, for the ops page tests (TestClient)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from fastapi.testclient import TestClient

from qianbao.members import service as members
from qianbao.members.vault import card_number
from qianbao.platform.clock import TZ, clock
from qianbao.platform.runtime import Platform
from qianbao.server import build_app
from tests.factories import new_user, operator_headers, page_csrf

DAY = date(2026, 3, 10)


def at(day: date, hour: int = 10) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, tzinfo=TZ))


def operator_key(p: Platform, role: str) -> str:
    return operator_headers(p, role)["Authorization"].removeprefix("Bearer ")


class OpsClient:
    """A browser-like client signed in as one operator; ``post`` carries the page's CSRF token."""

    def __init__(self, p: Platform, role: str) -> None:
        self.key = operator_key(p, role)
        self.id = members.principal_for_key(p, self.key).id
        self.c = TestClient(build_app(p))
        self.csrf = page_csrf(self.c, "/ops/login")
        data = {"api_key": self.key, "next": "/ops", "csrf_token": self.csrf}
        assert self.c.post("/ops/login", data=data, follow_redirects=False).status_code == 303

    def get(self, path: str) -> Any:
        return self.c.get(path)

    def post(self, path: str, **data: str) -> Any:
        return self.c.post(path, data={**data, "csrf_token": self.csrf}, follow_redirects=False)


def stray_charge_day(p: Platform, request_id: str = "stray-1", amount_fen: int = 450) -> None:
    """A day on which the bank moved money on a request we never sent (a BANK_ONLY line)."""
    at(DAY)
    user = new_user(p, unit=1, balance_fen=1_000)
    card = members.list_cards(p, user)[0]
    p.channels["SIMBANK"].inner.charge(request_id, card_number(p, card), amount_fen)
    at(DAY.replace(day=DAY.day + 1), 9)


def approval_id(html: str) -> str:
    found = re.search(r'id="field-approval_id">([^<]+)<', html)
    assert found, html
    return found.group(1)


def disputed_trade(p: Platform, amount_fen: int = 100_00, notify_url: str = "") -> dict[str, Any]:
    """A paid secured trade its buyer disputes (through a sandbox app when ``notify_url``)."""
    from qianbao.openapi import apps
    from qianbao.payments import secured, trades
    from tests.factories import PAY_PASSWORD
    from tests.trades.helpers import new_merchant, req

    merchant = new_merchant(p)
    extra: dict[str, Any] = {}
    if notify_url:
        extra = {"app_id": apps.create_sandbox_app(p, merchant)["app_id"], "notify_url": notify_url}
    buyer = new_user(p, balance_fen=amount_fen)
    t = trades.create(p, req(merchant, amount_fen, product=trades.SECURED, **extra), buyer)
    trades.pay(p, t["id"], buyer, PAY_PASSWORD)
    return dict(secured.open_dispute(p, buyer, t["id"], "goods never arrived"))
