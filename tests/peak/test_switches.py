"""Degradation switches (issue 12 item 5): each switch on gives its documented answer (a 503
with its own code, or a stale list marked so), off gives the normal behaviour back. The
merchant-notification switch is tested beside the notifications (tests/trades)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from qianbao.credit import installments
from qianbao.marketing import service as marketing
from qianbao.members.identity import make_id_number
from qianbao.platform.errors import QianbaoError
from qianbao.scoring import service as scoring
from tests.factories import PAY_PASSWORD, new_user, operator_headers
from tests.peak.helpers import user_headers


def _flip(url: str, admin: dict[str, str], name: str, state: str) -> None:
    answer = httpx.put(f"{url}/api/v1/ops/switches/{name}", params={"state": state}, headers=admin)
    assert answer.status_code == 200, answer.text


def test_registrations_paused_then_back(served):
    p, url = served
    admin = operator_headers(p, "admin")
    body = {
        "name": "高峰用户",
        "id_number": make_id_number("110101", date(1990, 5, 6), 321),
        "phone": "13912345678",
        "login_password": "abc12345",
        "pay_password": "135790",
    }
    _flip(url, admin, "registrations.paused", "on")
    try:
        refused = httpx.post(f"{url}/api/v1/users", json=body)
        assert refused.status_code == 503
        assert refused.json()["code"] == "REGISTRATIONS_PAUSED" and refused.headers["Retry-After"]
        shown = httpx.get(f"{url}/api/v1/ops/controls", headers=admin).json()["switches"]
        assert {s["name"]: s["on"] for s in shown}["registrations.paused"] is True
    finally:
        _flip(url, admin, "registrations.paused", "off")
    assert httpx.post(f"{url}/api/v1/users", json=body).status_code == 201
    unknown = httpx.put(f"{url}/api/v1/ops/switches/nope", params={"state": "on"}, headers=admin)
    assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_ARGUMENT"


def _code(call) -> str:
    try:
        call()
    except QianbaoError as exc:
        return str(exc.code)
    return "OK"


@pytest.mark.parametrize(
    ("switch", "code"),
    [
        ("coupons.off", "COUPONS_OFF"),
        ("installments.off", "INSTALLMENTS_OFF"),
        ("score.refresh.paused", "SCORE_REFRESH_PAUSED"),
    ],
)
def test_a_switched_off_feature_answers_its_own_code_and_comes_back(served, switch, code):
    p, _ = served
    user = new_user(p)
    calls = {
        "coupons.off": lambda: marketing.issue(p, "no-such-campaign", user, "r1"),
        "installments.off": lambda: installments.install_bill(p, user, "no-such-bill", 3, "r1"),
        "score.refresh.paused": lambda: scoring.score_user(p, user, {}, reason="APPLY"),
    }
    p.controls.set_switch(switch, True, "test")
    try:
        assert _code(calls[switch]) == code
        if switch == "score.refresh.paused":
            assert scoring.rescore_scored(p, [user]) == 0  # the periodic refresh waits too
    finally:
        p.controls.set_switch(switch, False, "test")
    if switch == "score.refresh.paused":  # (scoring for real would train a card: seconds)
        p.controls.refuse_if_on(switch)
    else:
        assert _code(calls[switch]) not in (code, "OK")  # back to the feature's own checks


def test_statements_served_stale_while_the_switch_is_on(served):
    p, url = served
    payer, payee = new_user(p, balance_fen=10_000), new_user(p)
    admin, headers = operator_headers(p, "admin"), user_headers(p, payer)
    statement = f"{url}/api/v1/me/statement"
    before = httpx.get(statement, headers=headers).json()
    _flip(url, admin, "activity.stale", "on")
    try:
        paid = httpx.post(
            f"{url}/api/v1/transfers",
            json={"to_user_id": payee, "amount_fen": 100, "request_id": "st-1"}
            | {"pay_password": PAY_PASSWORD},
            headers=headers,
        )
        assert paid.status_code == 200
        stale = httpx.get(statement, headers=headers)
        assert stale.json() == before and "x-qianbao-stale" in stale.headers
    finally:
        _flip(url, admin, "activity.stale", "off")
    fresh = httpx.get(statement, headers=headers)
    assert len(fresh.json()) == len(before) + 1 and "x-qianbao-stale" not in fresh.headers
