"""The merchant's batch of payment codes (POST /api/v1/merchant/payments/batch): each item its
own answer, money moved exactly once per out_trade_no, the ledger balanced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.payments import codes
from tests.conftest import assert_ledger_clean
from tests.factories import LOGIN_PASSWORD, new_user
from tests.trades.helpers import balance, merchant_fen

PATH = "/api/v1/merchant/payments/batch"


@pytest.fixture
def shop(platform: Any) -> dict[str, Any]:
    p = platform
    buyers = [
        new_user(p, unit=i % len(p.units), balance_fen=100_000, password_free_fen=50_000)
        for i in range(4)
    ]
    merchant, key = members.create_merchant(p, "批量商户")
    other, other_key = members.create_merchant(p, "别家商户")
    return {
        "p": p,
        "c": TestClient(create_app(p)),
        "buyers": buyers,
        "merchant": merchant["id"],
        "auth": {"Authorization": f"Bearer {key}"},
        "other_auth": {"Authorization": f"Bearer {other_key}"},
    }


def _code(p: Any, user_id: str) -> str:
    return str(codes.issue_payment_code(p, user_id)["code"])


def _items(p: Any, buyers: list[str], amount_fen: int, tag: str) -> list[dict[str, Any]]:
    return [
        {"out_trade_no": f"{tag}-{i}", "auth_code": _code(p, b), "amount_fen": amount_fen}
        for i, b in enumerate(buyers)
    ]


def test_a_batch_pays_every_item_once_and_the_ledger_balances(shop: dict[str, Any]) -> None:
    p, c, buyers = shop["p"], shop["c"], shop["buyers"]
    items = _items(p, buyers, 1_000, "B1")
    answer = c.post(PATH, json={"items": items}, headers=shop["auth"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["succeeded"] == len(buyers) and body["refused"] == 0
    assert [r["out_trade_no"] for r in body["results"]] == [i["out_trade_no"] for i in items]
    assert {r["trade_status"] for r in body["results"]} == {"TRADE_SUCCESS"}
    assert [r["buyer_id"] for r in body["results"]] == buyers
    assert all(balance(p, b) == 99_000 for b in buyers)
    paid_in = merchant_fen(p, shop["merchant"])
    assert 0 < paid_in <= 4_000  # less the merchant's fee
    assert_ledger_clean(p)

    again = c.post(PATH, json={"items": items}, headers=shop["auth"]).json()
    assert [r.get("trade_no") for r in again["results"]] == [r["trade_no"] for r in body["results"]]
    assert all(balance(p, b) == 99_000 for b in buyers)  # the repeat moved nothing
    assert merchant_fen(p, shop["merchant"]) == paid_in
    changed = [{**items[0], "amount_fen": 999}]
    conflict = c.post(PATH, json={"items": changed}, headers=shop["auth"]).json()["results"][0]
    assert (conflict["status"], conflict["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert_ledger_clean(p)


def test_bad_items_get_their_own_4xx_and_the_good_ones_pay(shop: dict[str, Any]) -> None:
    p, c, buyers = shop["p"], shop["c"], shop["buyers"]
    good = _items(p, buyers[:1], 500, "B2")[0]
    items = [
        good,
        {"out_trade_no": "B2-bad-code", "auth_code": "123", "amount_fen": 500},
        {"out_trade_no": "B2-unknown", "auth_code": "28" + "0" * 14 + "00", "amount_fen": 500},
        {"out_trade_no": "B2-amount", "auth_code": _code(p, buyers[1]), "amount_fen": "5"},
        {"out_trade_no": "B2-zero", "auth_code": _code(p, buyers[1]), "amount_fen": 0},
        {"out_trade_no": "B2-big", "auth_code": _code(p, buyers[2]), "amount_fen": 60_000},
        {"out_trade_no": "B2-extra", "auth_code": _code(p, buyers[3]), "amount_fen": 1, "x": 1},
        {**good, "auth_code": _code(p, buyers[3])},  # the same out_trade_no again
    ]
    body = c.post(PATH, json={"items": items}, headers=shop["auth"]).json()
    results = body["results"]
    assert body["succeeded"] == 2 and results[0]["status"] == 200
    big = results[5]  # above the password-free limit: the trade waits for the buyer's password
    assert (big["status"], big["trade_status"]) == (200, "WAIT_BUYER_PAY")
    refused = results[1:5] + results[6:]
    assert all(400 <= r["status"] < 500 and r["code"] and r["message"] for r in refused), refused
    codes_of = {r["out_trade_no"]: r["code"] for r in refused[:-1]}
    assert codes_of["B2-bad-code"] == codes_of["B2-unknown"] == "PAYMENT_CODE_INVALID"
    assert [r["status"] for r in refused[:2]] == [400, 404]
    assert codes_of["B2-amount"] == codes_of["B2-extra"] == "INVALID_ARGUMENT"
    assert refused[-1]["code"] == "DUPLICATE_IN_BATCH"
    assert balance(p, buyers[0]) == 99_500
    assert all(balance(p, b) == 100_000 for b in buyers[1:])  # refused items moved nothing
    assert_ledger_clean(p)


def test_someone_elses_code_and_someone_elses_call_are_refused(shop: dict[str, Any]) -> None:
    p, c, buyers = shop["p"], shop["c"], shop["buyers"]
    items = _items(p, buyers[:1], 700, "B3")
    assert c.post(PATH, json={"items": items}, headers=shop["auth"]).json()["succeeded"] == 1
    # the same code, spent here, is refused to another merchant (a new order of its own)
    theirs = c.post(PATH, json={"items": items}, headers=shop["other_auth"]).json()
    assert theirs["results"][0]["code"] == "PAYMENT_CODE_INVALID"
    assert theirs["results"][0]["status"] == 404
    # a buyer's token or no key at all is not a merchant
    phone = members.get_user(p, buyers[1])["phone"]
    token = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD}).json()
    as_user = {"Authorization": f"Bearer {token['token']}"}
    fresh = _items(p, buyers[1:2], 700, "B4")
    assert c.post(PATH, json={"items": fresh}, headers=as_user).status_code in (401, 403)
    assert c.post(PATH, json={"items": fresh}).status_code == 401
    assert balance(p, buyers[1]) == 100_000
    assert_ledger_clean(p)


def test_a_batch_is_bounded_and_must_be_a_list(shop: dict[str, Any]) -> None:
    c = shop["c"]
    too_many = [{"out_trade_no": f"N{i}", "auth_code": "1", "amount_fen": 1} for i in range(101)]
    for body in ({"items": too_many}, {"items": []}, {"items": "x"}, {}):
        answer = c.post(PATH, json=body, headers=shop["auth"])
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "INVALID_ARGUMENT"
