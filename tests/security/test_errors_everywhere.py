"""Issue 11 item 9: every malformed id, body, date or amount answers 4xx ``{code, message}``
and changes nothing; derived idempotency keys never reject a valid client key; money in transit
is reported apart from an imbalance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from qianbao.credit import service as credit
from qianbao.ledger.service import (
    BALANCED,
    IMBALANCED,
    IN_TRANSIT,
    LedgerCheck,
    PlatformCheck,
    check_platform,
)
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.errors import InvalidArgument
from qianbao.platform.idempotency import KEY_MAX_CHARS, derived_key
from qianbao.platform.money import yuan_to_fen
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import huabei_user, merchant
from tests.factories import PAY_PASSWORD, card_of, new_user


@pytest.fixture
def ops(sqlite_platform):
    p = sqlite_platform
    _, key = members.create_operator(p, "ops-errors", "admin")
    client = TestClient(build_app(p), raise_server_exceptions=False)
    return p, client, {"Authorization": f"Bearer {key}"}


ID_PROBES = [
    ("GET", "/api/v1/ops/huabei/users/0", None, None),
    ("PUT", "/api/v1/ops/huabei/users/0/freeze", {"frozen": True, "reason": "probe"}, None),
    ("PUT", "/api/v1/ops/huabei/users/0/line", {"line_fen": 100_000, "reason": "probe"}, None),
    ("GET", "/api/v1/ops/users/0/score", None, None),
    ("GET", "/api/v1/ops/users/0", None, None),
    ("POST", "/api/v1/ops/notifications/0/resend", None, None),
    ("GET", "/api/v1/ops/notifications?trade_id=null", None, None),
    ("POST", "/api/v1/ops/trades/abc/dispute", None, {"decision": "refund"}),
    ("POST", "/api/v1/ops/trades/abc/compensation", None, {"amount": "1.00", "reason": "x"}),
    ("POST", "/api/v1/ops/merchants/x/settle-cycle", {"settle_cycle": "T1"}, None),
]


@pytest.mark.parametrize(("method", "path", "body", "form"), ID_PROBES)
def test_an_id_without_a_route_bucket_is_a_4xx_with_a_code(ops, method, path, body, form):
    _, c, h = ops
    r = c.request(method, path, json=body, data=form, headers=h)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert set(r.json()) == {"code", "message"} and r.json()["code"]


def test_an_unparsable_body_and_an_unknown_route_answer_code_and_message(ops):
    _, c, h = ops
    r = c.post(
        "/api/v1/ops/huabei/day-end",
        content=b'{"day": ',
        headers={**h, "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "BODY_NOT_JSON", r.text
    r = c.get("/api/v1/no-such-thing", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "ROUTE_NOT_FOUND"
    r = c.delete("/api/v1/ops/ledger/check", headers=h)
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    assert "detail" not in r.json()


def test_operator_date_endpoints_refuse_future_dates_and_change_nothing(ops):
    p, c, h = ops
    future = (clock.today() + timedelta(days=31)).isoformat()
    calls = [
        c.post("/api/v1/ops/huabei/day-end", json={"day": future}, headers=h),
        c.get(f"/api/v1/ops/huabei/report?day={future}", headers=h),
        c.post(f"/api/v1/ops/ledger/days/{future}/close", headers=h),
        c.get(f"/api/v1/ops/ledger/days/{future}", headers=h),
        c.post(f"/api/v1/ops/reconciliations/SIMBANK/{future}", headers=h),
        c.get(f"/api/v1/ops/reconciliations/SIMBANK/{future}", headers=h),
        c.get(f"/api/v1/ops/reconciliations/SIMBANK/{future}/differences.csv", headers=h),
        c.post(f"/api/v1/ops/reconciliations/SIMBANK/{future}/differences/r1/suspense", headers=h),
        c.post(f"/api/v1/ops/settlement/run?day={future}", headers=h),
    ]
    for r in calls:
        assert r.status_code == 400 and r.json()["code"] == "DAY_IN_FUTURE", r.text
    for db in p.units:
        with db.read() as tx:
            assert tx.scalar("SELECT COUNT(*) AS n FROM ledger_day_closings") == 0
    today = clock.today().isoformat()
    assert c.post("/api/v1/ops/huabei/day-end", json={"day": today}, headers=h).status_code == 200


@pytest.mark.parametrize(
    "text", ["１２", "١٢", "1_0", "1e2", "12.345", "+5", "--5", " 5", "5.", ".5", "NaN", "", "0x10"]
)
def test_amounts_refuse_anything_but_ascii_digits_with_two_decimals(text):
    with pytest.raises(InvalidArgument):
        yuan_to_fen(text)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("5", 500), ("5.000", 500), ("12.3", 1230), ("12.34", 1234), ("0.10", 10), ("-1.00", -100)],
)
def test_amounts_accept_trailing_zeros_up_to_the_fen(text, fen):
    assert yuan_to_fen(text) == fen


def test_derived_keys_fit_for_every_valid_client_key():
    for n in range(1, KEY_MAX_CHARS + 1):
        key = derived_key("credit-repay", "k" * n)
        assert 0 < len(key) <= KEY_MAX_CHARS
    assert derived_key("credit-repay", "abc") == "credit-repay-abc"  # old keys keep their form
    assert derived_key("p", "a" * 64) != derived_key("p", "a" * 63 + "b")


def test_huabei_repayment_from_a_card_takes_a_64_character_request_id(platform):
    p = platform
    user = huabei_user(p, line_fen=500_000, balance_fen=0)
    credit.pay_merchant_with_huabei(p, user, merchant(p), 10_000, "long-key-buy")
    request_id = "r" * KEY_MAX_CHARS
    first = credit.repay(p, user, 4_000, request_id, PAY_PASSWORD, card_id=card_of(p, user))
    again = credit.repay(p, user, 4_000, request_id, PAY_PASSWORD, card_id=card_of(p, user))
    assert first["id"] == again["id"]
    assert credit.summary(p, user)["available_fen"] == 500_000 - 6_000
    assert payments.balance(p, user)["balance_fen"] == 0  # topped up once, repaid once
    assert_ledger_clean(p)


def test_money_in_transit_is_a_state_not_an_imbalance(sqlite_platform, tmp_path):
    p = sqlite_platform
    p.relay.stop()
    a = new_user(p, unit=0, balance_fen=5_000)
    b = new_user(p, unit=1)
    payments.transfer(p, a, b, 900, "transit-1", PAY_PASSWORD)
    result = check_platform(p)
    assert (result.ok, result.status, result.in_transit_fen) == (True, IN_TRANSIT, 900)
    r = TestClient(build_app(p)).post(
        "/api/v1/ops/ledger/check",
        headers={"Authorization": f"Bearer {members.create_operator(p, 'o', 'admin')[1]}"},
    )
    assert r.json()["status"] == IN_TRANSIT and r.json()["ok"] is True
    p.relay.drain()
    assert check_platform(p).status == BALANCED
    broken = PlatformCheck([LedgerCheck(0, 5, 1, [], [], [])], 900)
    assert broken.status == IMBALANCED and not broken.ok
