"""Bad input: a clear 4xx with a stable code, nothing changed; nobody moves what is not theirs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.ledger.service import check_platform
from qianbao.members import service as members
from qianbao.payments import service as payments
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, card_of, new_user


def _snapshot(p) -> list:
    """Every account balance and every row count that money could touch."""
    rows = []
    for db in p.units:
        with db.read() as tx:
            rows.append(
                [
                    tuple(r)
                    for r in tx.all("SELECT id, balance_fen, hold_fen FROM accounts ORDER BY id")
                ]
            )
            for table in ("postings", "payments", "refunds", "transfers", "bank_orders"):
                rows.append(tx.scalar(f"SELECT COUNT(*) AS n FROM {table}"))
    return rows


@pytest.fixture
def world(platform):
    p = platform
    a = new_user(p, unit=0, balance_fen=100_000)
    b = new_user(p, unit=1, balance_fen=50_000)
    merchant, key = members.create_merchant(p, "Bad Input Shop")
    other, other_key = members.create_merchant(p, "Other Shop")
    paid = payments.pay_merchant(p, b, merchant["id"], 10_000, "seed-pay", PAY_PASSWORD)
    client = TestClient(create_app(p))

    def token(user_id: str) -> dict[str, str]:
        phone = members.get_user(p, user_id)["phone"]
        t = client.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
        return {"Authorization": f"Bearer {t.json()['token']}"}

    p.relay.drain()
    return {
        "p": p,
        "c": client,
        "a": a,
        "b": b,
        "ha": token(a),
        "hb": token(b),
        "merchant": merchant["id"],
        "mkey": {"Authorization": f"Bearer {key}"},
        "other_key": {"Authorization": f"Bearer {other_key}"},
        "paid": paid["id"],
    }


BAD_AMOUNTS = [
    (-1, "AMOUNT_INVALID"),
    (0, "AMOUNT_INVALID"),
    (10**15, "AMOUNT_TOO_LARGE"),
    (12.5, "INVALID_ARGUMENT"),
    ("100", "INVALID_ARGUMENT"),
    (True, "INVALID_ARGUMENT"),
    (None, "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("amount", "code"), BAD_AMOUNTS)
def test_bad_amounts_change_nothing(world, amount, code):
    p, c = world["p"], world["c"]
    before = _snapshot(p)
    calls = [
        (
            "/api/v1/payments",
            world["ha"],
            {"merchant_id": world["merchant"], "pay_password": PAY_PASSWORD},
        ),
        (
            "/api/v1/transfers",
            world["ha"],
            {"to_user_id": world["b"], "pay_password": PAY_PASSWORD},
        ),
        ("/api/v1/topups", world["ha"], {"card_id": card_of(p, world["a"])}),
        (
            "/api/v1/withdrawals",
            world["ha"],
            {"card_id": card_of(p, world["a"]), "pay_password": PAY_PASSWORD},
        ),
        (f"/api/v1/merchant/payments/{world['paid']}/refunds", world["mkey"], {}),
    ]
    for i, (path, headers, body) in enumerate(calls):
        r = c.post(
            path, headers=headers, json={**body, "amount_fen": amount, "request_id": f"bad-{i}"}
        )
        assert 400 <= r.status_code < 500, (path, r.text)
        assert r.json()["code"] == code, (path, r.json())
        assert r.json()["message"]
    assert _snapshot(p) == before


def test_fen_strings_with_three_decimals_are_refused_by_the_cli_parser():
    from qianbao.platform.errors import InvalidArgument
    from qianbao.platform.money import yuan_to_fen

    assert yuan_to_fen("12.34") == 1234
    for text in ("12.345", "abc", "NaN", "1e400"):
        with pytest.raises(InvalidArgument):
            yuan_to_fen(text)


def test_unknown_ids_and_other_peoples_objects(world):
    p, c = world["p"], world["c"]
    before = _snapshot(p)
    cases = [
        c.post(
            "/api/v1/payments",
            headers=world["ha"],
            json={
                "merchant_id": "999999999999999999",
                "amount_fen": 100,
                "request_id": "u1",
                "pay_password": PAY_PASSWORD,
            },
        ),
        c.post(
            "/api/v1/transfers",
            headers=world["ha"],
            json={
                "to_user_id": "999999999999999999",
                "amount_fen": 100,
                "request_id": "u2",
                "pay_password": PAY_PASSWORD,
            },
        ),
        c.post(
            "/api/v1/topups",
            headers=world["ha"],
            json={"card_id": card_of(p, world["b"]), "amount_fen": 100, "request_id": "u3"},
        ),
        c.get(f"/api/v1/payments/{world['paid']}", headers=world["ha"]),  # b's payment
        c.get("/api/v1/payments/not-an-id", headers=world["ha"]),
        c.get(f"/api/v1/merchant/payments/{world['paid']}", headers=world["other_key"]),
        c.post(
            f"/api/v1/merchant/payments/{world['paid']}/refunds",
            headers=world["other_key"],
            json={"amount_fen": 100, "request_id": "u4"},
        ),
        c.get("/api/v1/bank-orders/999999999999999999", headers=world["ha"]),
    ]
    for r in cases:
        assert r.status_code == 404, r.text
        assert r.json()["code"].endswith("NOT_FOUND")
    assert _snapshot(p) == before


def test_authentication_and_roles(world):
    c = world["c"]
    assert c.get("/api/v1/me/balance").json()["code"] == "UNAUTHORIZED"
    r = c.get("/api/v1/me/balance", headers={"Authorization": "Bearer ut_forged"})
    assert (r.status_code, r.json()["code"]) == (401, "TOKEN_INVALID")
    r = c.get("/api/v1/merchant/balance", headers=world["ha"])
    assert r.status_code == 401  # a user token is no API key
    r = c.get("/api/v1/me/balance", headers=world["mkey"])
    assert (r.status_code, r.json()["code"]) == (403, "PERMISSION_DENIED")
    r = c.post("/api/v1/ops/ledger/check", headers=world["mkey"])
    assert r.status_code == 403
    _, auditor_key = members.create_operator(world["p"], "auditor-1", "auditor")
    auditor = {"Authorization": f"Bearer {auditor_key}"}
    assert c.post("/api/v1/ops/ledger/check", headers=auditor).json()["ok"] is True
    r = c.post("/api/v1/ops/bank-orders/resolve", headers=auditor)
    assert (r.status_code, r.json()["code"]) == (403, "PERMISSION_DENIED")


def test_replays_and_reused_keys(world):
    p, c = world["p"], world["c"]
    body = {
        "merchant_id": world["merchant"],
        "amount_fen": 1_000,
        "request_id": "same",
        "pay_password": PAY_PASSWORD,
    }
    first = c.post("/api/v1/payments", headers=world["ha"], json=body).json()
    before = _snapshot(p)
    again = c.post("/api/v1/payments", headers=world["ha"], json=body).json()
    assert again == first
    assert _snapshot(p) == before
    reused = c.post("/api/v1/payments", headers=world["ha"], json={**body, "amount_fen": 2_000})
    assert (reused.status_code, reused.json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert _snapshot(p) == before


def test_wrong_payment_password_locks_after_five(world):
    p, c = world["p"], world["c"]
    before = _snapshot(p)
    body = {"to_user_id": world["b"], "amount_fen": 100, "pay_password": "000111"}
    codes = [
        c.post(
            "/api/v1/transfers", headers=world["ha"], json={**body, "request_id": f"pw-{i}"}
        ).json()["code"]
        for i in range(6)
    ]
    assert codes == ["WRONG_PAY_PASSWORD"] * 5 + ["PAY_PASSWORD_LOCKED"]
    r = c.post(
        "/api/v1/transfers",
        headers=world["ha"],
        json={**body, "pay_password": PAY_PASSWORD, "request_id": "pw-ok"},
    )
    assert r.json()["code"] == "PAY_PASSWORD_LOCKED"
    assert _snapshot(p) == before


def test_insufficient_balance_and_limits(world):
    p, c = world["p"], world["c"]
    before = _snapshot(p)
    r = c.post(
        "/api/v1/transfers",
        headers=world["ha"],
        json={
            "to_user_id": world["b"],
            "amount_fen": 100_001,
            "request_id": "big",
            "pay_password": PAY_PASSWORD,
        },
    )
    assert (r.status_code, r.json()["code"]) == (400, "BALANCE_NOT_ENOUGH")
    r = c.post(
        "/api/v1/transfers",
        headers=world["ha"],
        json={
            "to_user_id": world["b"],
            "amount_fen": 6_000_000,
            "request_id": "huge",
            "pay_password": PAY_PASSWORD,
        },
    )
    assert r.json()["code"] == "SINGLE_LIMIT_EXCEEDED"
    r = c.post(
        "/api/v1/transfers",
        headers=world["ha"],
        json={
            "to_user_id": world["a"],
            "amount_fen": 1,
            "request_id": "self",
            "pay_password": PAY_PASSWORD,
        },
    )
    assert r.json()["code"] == "TRANSFER_TO_SELF"
    r = c.post(
        "/api/v1/payments",
        headers=world["ha"],
        json={"merchant_id": world["merchant"], "amount_fen": 100, "request_id": "nopw"},
    )
    assert (r.status_code, r.json()["code"]) == (401, "PAY_PASSWORD_REQUIRED")
    r = c.post(
        "/api/v1/payments",
        headers=world["ha"],
        json={
            "merchant_id": world["merchant"],
            "amount_fen": 100,
            "request_id": "x",
            "pay_password": PAY_PASSWORD,
            "surprise": 1,
        },
    )
    assert r.json()["code"] == "INVALID_ARGUMENT"
    assert _snapshot(p) == before
    assert check_platform(p).ok
