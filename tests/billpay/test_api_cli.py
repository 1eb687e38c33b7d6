"""Bill payment over HTTP (receipt, replays, 4xx with nothing moved, owners only, OpenAPI) and
from the terminal."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qianbao.api import billpay as billpay_api
from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.platform.clock import clock
from tests.billpay.helpers import account_with_bills
from tests.conftest import assert_ledger_clean
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user, operator_headers
from tests.trades.helpers import balance


def _token(c: TestClient, p, user_id: str) -> dict[str, str]:
    phone = members.get_user(p, user_id)["phone"]
    t = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
    return {"Authorization": f"Bearer {t.json()['token']}"}


def test_bill_payment_over_http(sqlite_platform):
    p = sqlite_platform
    c = TestClient(create_app(p, extra_routers=billpay_api.routers))
    admin = operator_headers(p, "admin")
    r = c.post(
        "/api/v1/ops/billpay/billers",
        headers=admin,
        json={"code": "HZPOWER", "name": "国网杭州供电", "category": "POWER"},
    )
    assert r.status_code == 200, r.json()
    acct = account_with_bills(p, "HZPOWER", 123_45)
    u, other = new_user(p, balance_fen=200_00), new_user(p)
    hu, ho = _token(c, p, u), _token(c, p, other)
    assert [b["code"] for b in c.get("/api/v1/billpay/billers", headers=hu).json()] == ["HZPOWER"]
    bills = c.get(
        "/api/v1/billpay/bills", params={"biller_code": "HZPOWER", "account_no": acct}, headers=hu
    ).json()
    assert [b["amount_fen"] for b in bills] == [123_45]
    body = {
        "biller_code": "HZPOWER",
        "account_no": acct,
        "bill_id": bills[0]["bill_id"],
        "request_id": "hb-1",
        "pay_password": PAY_PASSWORD,
    }
    bad = [
        ({"funding": "GOLD"}, 400, "BILL_FUNDING_INVALID"),
        ({"bill_id": "nope", "request_id": "hb-2"}, 404, "BILL_NOT_FOUND"),
        ({"biller_code": "NOPE"}, 404, "BILLER_NOT_FOUND"),
        ({"pay_password": "000000", "request_id": "hb-3"}, 401, "WRONG_PAY_PASSWORD"),
        ({"extra": 1}, 422, "INVALID_ARGUMENT"),
    ]
    for change, status, code in bad:
        r = c.post("/api/v1/billpay/payments", json={**body, **change}, headers=hu)
        assert (r.status_code, r.json()["code"]) == (status, code), (change, r.json())
    assert balance(p, u) == 200_00
    r = c.post("/api/v1/billpay/payments", json=body, headers=hu)
    assert r.status_code == 200 and r.json()["status"] == "SUCCEEDED" and r.json()["receipt_no"]
    assert c.post("/api/v1/billpay/payments", json=body, headers=hu).json() == r.json()
    assert balance(p, u) == 200_00 - 123_45
    pid = r.json()["payment_id"]
    assert c.get(f"/api/v1/billpay/payments/{pid}", headers=hu).status_code == 200
    assert c.get(f"/api/v1/billpay/payments/{pid}", headers=ho).status_code == 404
    today = clock.today().isoformat()
    csv_text = c.get(f"/api/v1/ops/billpay/files/HZPOWER/{today}", headers=admin).text
    assert csv_text.splitlines()[-1] == "TOTAL,,,12345,1,"
    assert pid in csv_text
    r = c.post("/api/v1/ops/billpay/reconciliations/HZPOWER/2020-01-01", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "BALANCED"
    doc = c.get("/openapi.json").json()
    assert (
        "/api/v1/billpay/payments" in doc["paths"]
        and "BILL_NOT_FOUND" in doc["info"]["description"]
    )
    assert_ledger_clean(p)
