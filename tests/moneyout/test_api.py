"""Money out over HTTP: the merchant's payout, a user's card transfer, 4xx bodies for bad input
with nothing moved, owners only, and the OpenAPI document."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qianbao.api import payouts as payouts_api
from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.payments import service as payments
from tests.conftest import assert_ledger_clean
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.moneyout.helpers import fresh_card
from tests.trades.helpers import balance, merchant_fen

BAD_AMOUNTS = [
    (-1, "AMOUNT_INVALID"),
    (0, "AMOUNT_INVALID"),
    (10**15, "AMOUNT_TOO_LARGE"),
    (12.5, "INVALID_ARGUMENT"),
    ("100", "INVALID_ARGUMENT"),
    (None, "INVALID_ARGUMENT"),
]


@pytest.fixture
def world(sqlite_platform):
    p = sqlite_platform
    merchant, key = members.create_merchant(p, "出金测试商户", None)
    _, other_key = members.create_merchant(p, "别的商户", None)
    payer = new_user(p, unit=1, balance_fen=500_00)
    payments.pay_merchant(p, payer, merchant["id"], 300_00, "seed", PAY_PASSWORD)
    user = new_user(p, balance_fen=200_00)
    client = TestClient(create_app(p, extra_routers=payouts_api.routers))
    phone = members.get_user(p, user)["phone"]
    t = client.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
    return {
        "p": p,
        "c": client,
        "m": merchant["id"],
        "mk": {"Authorization": f"Bearer {key}"},
        "other": {"Authorization": f"Bearer {other_key}"},
        "user": user,
        "ut": {"Authorization": f"Bearer {t.json()['token']}"},
    }


def test_a_merchant_pays_out_over_http(world):
    c, mk, p, m = world["c"], world["mk"], world["p"], world["m"]
    held = merchant_fen(p, m)
    r = c.post(
        "/api/v1/merchant/payouts", json={"amount_fen": 10_00, "request_id": "h1"}, headers=mk
    )
    assert (r.status_code, r.json()["code"]) == (409, "PAYOUT_ACCOUNT_MISSING")
    r = c.put(
        "/api/v1/merchant/settlement-account",
        headers=mk,
        json={"account_no": fresh_card(), "holder_name": "出金测试商户", "auto_payout": True},
    )
    assert r.status_code == 200 and r.json()["auto_payout"] is True
    assert c.get("/api/v1/merchant/settlement-account", headers=mk).json()["holder_name"]
    body = {"amount_fen": 100_00, "request_id": "h2"}
    first = c.post("/api/v1/merchant/payouts", json=body, headers=mk)
    assert first.status_code == 200 and first.json()["status"] == "SUCCEEDED", first.json()
    again = c.post("/api/v1/merchant/payouts", json=body, headers=mk)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert merchant_fen(p, m) == held - 100_00
    order_id = first.json()["order_id"]
    assert c.get(f"/api/v1/merchant/payouts/{order_id}", headers=mk).status_code == 200
    assert c.get(f"/api/v1/merchant/payouts/{order_id}", headers=world["other"]).status_code == 404
    as_user = c.get(f"/api/v1/merchant/payouts/{order_id}", headers=world["ut"])
    assert as_user.status_code in (401, 403)
    for amount, code in BAD_AMOUNTS:
        r = c.post(
            "/api/v1/merchant/payouts", json={"amount_fen": amount, "request_id": "b"}, headers=mk
        )
        assert 400 <= r.status_code < 500 and r.json()["code"] == code, (amount, r.json())
    r = c.post(
        "/api/v1/merchant/payouts", json={"amount_fen": held, "request_id": "big"}, headers=mk
    )
    assert (r.status_code, r.json()["code"]) == (409, "MERCHANT_BALANCE_NOT_ENOUGH")
    r = c.post("/api/v1/merchant/payouts", json={"amount_fen": 1, "request_id": ""}, headers=mk)
    assert r.status_code == 422
    assert merchant_fen(p, m) == held - 100_00
    assert len(c.get("/api/v1/merchant/payouts", headers=mk).json()) == 1
    assert_ledger_clean(p)


def test_a_user_transfers_to_a_card_over_http(world):
    c, ut, p, u = world["c"], world["ut"], world["p"], world["user"]
    fee = c.get("/api/v1/card-transfers/fee", params={"amount_fen": 50_00}, headers=ut).json()
    assert fee["fee_fen"] == 0  # inside the default monthly allowance
    body = {
        "card_no": fresh_card(),
        "holder_name": "李四",
        "amount_fen": 50_00,
        "request_id": "c1",
        "pay_password": PAY_PASSWORD,
    }
    r = c.post("/api/v1/card-transfers", json=body, headers=ut)
    assert r.status_code == 200 and r.json()["status"] == "SUCCEEDED", r.json()
    assert c.post("/api/v1/card-transfers", json=body, headers=ut).json() == r.json()
    assert balance(p, u) == 150_00
    bad = [
        ({"card_no": "1234567890123"}, "CARD_NO_INVALID"),
        ({"request_id": "c2", "pay_password": "000000"}, "WRONG_PAY_PASSWORD"),
        ({"request_id": "c3", "amount_fen": 150_01}, "BALANCE_NOT_ENOUGH"),
        ({"request_id": "c1", "amount_fen": 49_00}, "IDEMPOTENCY_KEY_REUSED"),
        ({"extra": 1}, "INVALID_ARGUMENT"),
    ]
    for change, code in bad:
        r = c.post("/api/v1/card-transfers", json={**body, **change}, headers=ut)
        assert 400 <= r.status_code < 500 and r.json()["code"] == code, (change, r.json())
    assert (
        c.get(f"/api/v1/card-transfers/{r.json().get('order_id', 'x')}", headers=ut).status_code
        == 404
    )
    assert balance(p, u) == 150_00
    assert [x["status"] for x in c.get("/api/v1/card-transfers", headers=ut).json()] == [
        "SUCCEEDED"
    ]
    assert_ledger_clean(p)


def test_the_openapi_document_lists_money_out(world):
    doc = world["c"].get("/openapi.json").json()
    for path in (
        "/api/v1/merchant/payouts",
        "/api/v1/merchant/settlement-account",
        "/api/v1/card-transfers",
        "/api/v1/card-transfers/fee",
    ):
        assert path in doc["paths"], path
    assert "PAYOUT_ACCOUNT_MISSING" in doc["info"]["description"]
