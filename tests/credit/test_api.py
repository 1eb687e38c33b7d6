"""Huabei over HTTP: the same error discipline as the rest of the API."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from qianbao.api import credit as credit_api
from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, merchant
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user


def _client(p: Platform) -> TestClient:
    return TestClient(create_app(p, extra_routers=credit_api.routers))


def _login(c: TestClient, p: Platform, user_id: str) -> dict[str, str]:
    phone = members.get_user(p, user_id)["phone"]
    t = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD}).json()
    return {"Authorization": f"Bearer {t['token']}"}


def test_huabei_over_http(platform: Platform) -> None:
    p = platform
    at(date(2026, 3, 2))
    c = _client(p)
    alice, bob = new_user(p, balance_fen=100_000), new_user(p)
    ha, hb = _login(c, p, alice), _login(c, p, bob)
    shop = merchant(p)
    _, op_key = members.create_operator(p, "huabei-ops", "admin")
    ops = {"Authorization": f"Bearer {op_key}"}
    _, mkey = members.create_merchant(p, "Other Huabei Shop")

    assert c.get("/api/v1/huabei", headers=ha).json()["code"] == "CREDIT_ACCOUNT_NOT_FOUND"
    r = c.post("/api/v1/huabei/account", json={"request_id": "o1"}, headers=ha)
    assert r.status_code == 201, r.text
    line = r.json()["line_fen"]
    assert 50_000 <= line <= 3_000_000
    again = c.post("/api/v1/huabei/account", json={"request_id": "o1"}, headers=ha)
    assert again.status_code == 201  # same request id: the first result
    assert (
        c.post("/api/v1/huabei/account", json={"request_id": "o2"}, headers=ha).json()["code"]
        == "CREDIT_ACCOUNT_EXISTS"
    )

    bad = [
        {"merchant_id": shop, "amount_fen": 0, "request_id": "x"},
        {"merchant_id": shop, "amount_fen": 1.5, "request_id": "x"},
        {"merchant_id": shop, "amount_fen": "12", "request_id": "x"},
        {"merchant_id": shop, "amount_fen": 100, "request_id": "x", "installments": 5},
    ]
    for body in bad:
        r = c.post("/api/v1/huabei/payments", json=body, headers=ha)
        assert 400 <= r.status_code < 500 and "code" in r.json(), (body, r.text)
    r = c.post(
        "/api/v1/huabei/payments",
        json={
            "merchant_id": shop,
            "amount_fen": line + 100,
            "request_id": "big",
            "pay_password": PAY_PASSWORD,
        },
        headers=ha,
    )
    assert r.json()["code"] == "CREDIT_LINE_EXCEEDED"
    r = c.post(
        "/api/v1/huabei/payments",
        json={
            "merchant_id": shop,
            "amount_fen": 20_000,
            "request_id": "p1",
            "pay_password": PAY_PASSWORD,
        },
        headers=ha,
    )
    assert r.status_code == 201, r.text
    purchase = r.json()["purchase_id"]
    assert c.get("/api/v1/huabei", headers=ha).json()["available_fen"] == line - 20_000

    # another merchant cannot refund it; the right one can
    r = c.post(
        f"/api/v1/merchant/huabei/purchases/{purchase}/refunds",
        json={"amount_fen": 100, "request_id": "r1"},
        headers={"Authorization": f"Bearer {mkey}"},
    )
    assert r.status_code == 404 and r.json()["code"] == "CREDIT_PURCHASE_NOT_FOUND"

    # the bill day, via the operator endpoint
    at(date(2026, 4, 1))
    r = c.post("/api/v1/ops/huabei/day-end", json={"day": "2026-04-01"}, headers=ops)
    assert r.status_code == 200 and r.json()["start"]["statements"] == 1
    ha, hb = _login(c, p, alice), _login(c, p, bob)  # tokens expire after a day
    bills = c.get("/api/v1/huabei/bills", headers=ha).json()
    assert bills[0]["total_fen"] == 20_000 and bills[0]["minimum_fen"] == 2_000
    bill_id = bills[0]["statement_id"]
    assert c.get(f"/api/v1/huabei/bills/{bill_id}", headers=hb).status_code == 404
    detail = c.get(f"/api/v1/huabei/bills/{bill_id}", headers=ha).json()
    assert detail["items"][0]["principal_fen"] == 20_000

    r = c.post(
        f"/api/v1/huabei/bills/{bill_id}/installments",
        json={"periods": 3, "request_id": "s1"},
        headers=ha,
    )
    assert r.status_code == 201, r.text
    assert [x["principal_fen"] for x in r.json()["schedule"]] == [6_667, 6_667, 6_666]
    plan_id = r.json()["plan_id"]
    r = c.post(f"/api/v1/huabei/plans/{plan_id}/settlement", json={"request_id": "e1"}, headers=hb)
    assert r.status_code == 404
    r = c.post(f"/api/v1/huabei/plans/{plan_id}/settlement", json={"request_id": "e1"}, headers=ha)
    assert r.status_code == 200 and r.json()["status"] == "SETTLED"

    r = c.post(
        "/api/v1/huabei/repayments",
        json={"amount_fen": 1, "request_id": "q1", "pay_password": PAY_PASSWORD},
        headers=ha,
    )
    assert r.json()["code"] == "CREDIT_NOTHING_OWED"

    # operators: freeze stops use; auditors may read but not write
    _, auditor = members.create_operator(p, "huabei-auditor", "auditor")
    r = c.put(
        f"/api/v1/ops/huabei/users/{alice}/freeze",
        json={"frozen": True, "reason": "x"},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    assert r.json()["code"] == "PERMISSION_DENIED"
    r = c.put(
        f"/api/v1/ops/huabei/users/{alice}/freeze",
        json={"frozen": True, "reason": "risk review"},
        headers=ops,
    )
    assert r.json()["frozen"] is True
    r = c.post(
        "/api/v1/huabei/payments",
        json={
            "merchant_id": shop,
            "amount_fen": 100,
            "request_id": "p2",
            "pay_password": PAY_PASSWORD,
        },
        headers=ha,
    )
    assert r.status_code == 403 and r.json()["code"] == "CREDIT_FROZEN"
    r = c.post(
        "/api/v1/huabei/line-requests",
        json={"new_line_fen": line * 2, "request_id": "l1"},
        headers=ha,
    )
    assert r.status_code == 201 and r.json()["decision"] == "REJECTED"
    report = c.get("/api/v1/ops/huabei/report", headers=ops).json()
    assert report["accounts"] == 1 and "overdue_rate" in report

    paths = c.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/huabei/payments",
        "/api/v1/huabei/repayments",
        "/api/v1/huabei/bills/{statement_id}/installments",
        "/api/v1/merchant/huabei/purchases/{purchase_id}/refunds",
        "/api/v1/ops/huabei/report",
    ):
        assert path in paths
    assert_ledger_clean(p)
