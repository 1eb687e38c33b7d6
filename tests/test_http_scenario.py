"""The scripted scenario over real HTTP: two users in different units and one merchant."""

from __future__ import annotations

from datetime import date

import httpx

from qianbao.members import service as members
from qianbao.members.identity import make_card_no, make_id_number
from qianbao.platform.ids import bucket_for_key
from tests.conftest import assert_ledger_clean
from tests.http_server import serving

PAY = "246810"


def _phone_in_unit(p, unit: int, start: int) -> str:
    n = start
    while p.unit_of_bucket(bucket_for_key(str(n))) != unit:
        n += 1
    return str(n)


def _register(c: httpx.Client, p, name: str, unit: int, seq: int) -> tuple[str, dict]:
    phone = _phone_in_unit(p, unit, 13700000000 + seq * 1000)
    body = {
        "name": name,
        "id_number": make_id_number("440106", date(1988, 6, seq), seq),
        "phone": phone,
        "login_password": "pass1234",
        "pay_password": PAY,
    }
    r = c.post("/api/v1/users", json=body)
    assert r.status_code == 201, r.text
    token = c.post("/api/v1/sessions", json={"phone": phone, "password": "pass1234"}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    card = c.post(
        "/api/v1/me/cards", json={"card_no": make_card_no(f"62258{seq:010d}")}, headers=headers
    )
    assert card.status_code == 201, card.text
    return card.json()["card_id"], headers


def test_two_units_one_merchant_to_the_fen(platform):
    p = platform
    merchant, merchant_key = members.create_merchant(p, "Scenario Store")
    mh = {"Authorization": f"Bearer {merchant_key}"}
    with serving(p) as base, httpx.Client(base_url=base, timeout=30) as c:
        card_a, ha = _register(c, p, "王五", 0, 1)
        card_b, hb = _register(c, p, "赵六", 1, 2)
        me_a = c.get("/api/v1/me", headers=ha).json()
        me_b = c.get("/api/v1/me", headers=hb).json()
        assert p.unit_of(me_a["user_id"]) == 0 and p.unit_of(me_b["user_id"]) == 1
        assert me_a["kyc_level"] == 2  # the bank confirmed the card holder

        # A tops up 30,000.00 (twice the same request: one top-up).
        for _ in range(2):
            r = c.post(
                "/api/v1/topups",
                headers=ha,
                json={"card_id": card_a, "amount_fen": 3_000_000, "request_id": "top-1"},
            )
            assert r.status_code == 200 and r.json()["status"] == "SUCCEEDED", r.text
        # A sends B 1,200.00 across units (replayed: one transfer).
        for _ in range(2):
            r = c.post(
                "/api/v1/transfers",
                headers=ha,
                json={
                    "to_user_id": me_b["user_id"],
                    "amount_fen": 120_000,
                    "request_id": "tr-1",
                    "pay_password": PAY,
                },
            )
            assert r.status_code == 200 and r.json()["cross_unit"] is True, r.text
        # A pays the merchant 333.33; fee 0.6% = 2.00 (1.99998 rounded half-up).
        r = c.post(
            "/api/v1/payments",
            headers=ha,
            json={
                "merchant_id": merchant["id"],
                "amount_fen": 33_333,
                "request_id": "pay-1",
                "pay_password": PAY,
            },
        )
        assert r.status_code == 200, r.text
        payment = r.json()
        assert payment["fee_fen"] == 200
        # Two partial refunds: 100.00 then 233.33; the fee comes back 0.60 + 1.40.
        r1 = c.post(
            f"/api/v1/merchant/payments/{payment['payment_id']}/refunds",
            headers=mh,
            json={"amount_fen": 10_000, "request_id": "rf-1"},
        )
        r2 = c.post(
            f"/api/v1/merchant/payments/{payment['payment_id']}/refunds",
            headers=mh,
            json={"amount_fen": 23_333, "request_id": "rf-2"},
        )
        assert (r1.json()["fee_refund_fen"], r2.json()["fee_refund_fen"]) == (60, 140)
        over = c.post(
            f"/api/v1/merchant/payments/{payment['payment_id']}/refunds",
            headers=mh,
            json={"amount_fen": 1, "request_id": "rf-3"},
        )
        assert over.status_code == 400 and over.json()["code"] == "REFUND_AMOUNT_EXCEEDED"
        # B pays the merchant 100.00 and keeps it (fee 0.60).
        r = c.post(
            "/api/v1/payments",
            headers=hb,
            json={
                "merchant_id": merchant["id"],
                "amount_fen": 10_000,
                "request_id": "pay-b",
                "pay_password": PAY,
            },
        )
        assert r.status_code == 200
        # B withdraws 1,000.00: within the free quota, no fee.
        r = c.post(
            "/api/v1/withdrawals",
            headers=hb,
            json={
                "card_id": card_b,
                "amount_fen": 100_000,
                "request_id": "wd-1",
                "pay_password": PAY,
            },
        )
        assert r.json()["fee_fen"] == 0 and r.json()["status"] == "SUCCEEDED", r.text
        # A withdraws 20,500.00: the lifetime free quota is 20,000.00, 500.00 at 0.1% = 0.50.
        r = c.post(
            "/api/v1/withdrawals",
            headers=ha,
            json={
                "card_id": card_a,
                "amount_fen": 2_050_000,
                "request_id": "wd-a",
                "pay_password": PAY,
            },
        )
        assert r.json()["fee_fen"] == 50, r.text
        # Then 50.00 more: all above the quota, 0.05 rounds below the 0.10 minimum fee.
        r = c.post(
            "/api/v1/withdrawals",
            headers=ha,
            json={
                "card_id": card_a,
                "amount_fen": 5_000,
                "request_id": "wd-a2",
                "pay_password": PAY,
            },
        )
        assert r.json()["fee_fen"] == 10, r.text

        assert_ledger_clean(p)
        bal_a = c.get("/api/v1/me/balance", headers=ha).json()["balance_fen"]
        bal_b = c.get("/api/v1/me/balance", headers=hb).json()["balance_fen"]
        assert bal_a == 3_000_000 - 120_000 - 33_333 + 10_000 + 23_333 - 2_050_050 - 5_010
        assert bal_b == 120_000 - 10_000 - 100_000
        mbal = c.get("/api/v1/merchant/balance", headers=mh).json()
        assert mbal["balance_fen"] == 10_000 - 60
        statement = c.get("/api/v1/me/statement", headers=ha).json()
        assert statement[0]["balance_after_fen"] == bal_a
        activity = c.get("/api/v1/merchant/activity", headers=mh).json()
        assert sum(a["amount_fen"] for a in activity) == 10_000
        assert sum(a["fee_fen"] for a in activity) == 60
