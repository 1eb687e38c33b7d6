"""The installment previews and the purchase split over the JSON API: the preview prices what the
split books, a stranger gets 404, bad periods a 4xx, and a repeat books once."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from qianbao.api import credit as credit_api
from qianbao.api.app import create_app
from qianbao.credit import dayend
from qianbao.credit import service as credit
from qianbao.members import service as members
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, merchant
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user


def _headers(c: TestClient, p, user_id: str) -> dict[str, str]:
    phone = members.get_user(p, user_id)["phone"]
    t = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD}).json()
    return {"Authorization": f"Bearer {t['token']}"}


def test_previews_and_the_purchase_split(platform):
    p = platform
    c = TestClient(create_app(p, extra_routers=credit_api.routers))
    at(date(2026, 3, 2))
    user = new_user(p, balance_fen=1_000_00)
    credit.open_credit_account(p, user, "open-api")
    shop = merchant(p)
    credit.pay_merchant_with_huabei(p, user, shop, 400_00, "b1", PAY_PASSWORD)
    at(date(2026, 4, 1))
    dayend.start_of_day(p, date(2026, 4, 1))
    at(date(2026, 4, 2))
    pur = credit.pay_merchant_with_huabei(p, user, shop, 100_00, "b2", PAY_PASSWORD)["id"]
    h, stranger = _headers(c, p, user), _headers(c, p, new_user(p))
    bill = credit.list_statements(p, user)[0]["statement_id"]

    r = c.get(f"/api/v1/huabei/bills/{bill}/installments/preview?periods=12", headers=h)
    assert r.status_code == 200 and r.json()["fee_fen"] == 35_20  # 8.8 % of 400
    booked = c.post(
        f"/api/v1/huabei/bills/{bill}/installments",
        json={"periods": 12, "request_id": "s1"},
        headers=h,
    ).json()
    assert booked["fee_fen"] == 35_20
    assert [x["principal_fen"] for x in booked["schedule"]] == [
        x["principal_fen"] for x in r.json()["schedule"]
    ]
    assert booked["schedule"][0]["due_date"] == "2026-05-10"

    path = f"/api/v1/huabei/purchases/{pur}/installments"
    for periods in ("9", "0", "x"):
        r = c.get(f"{path}/preview?periods={periods}", headers=h)
        assert 400 <= r.status_code < 500 and "code" in r.json(), periods
    assert c.get(f"{path}/preview?periods=3", headers=stranger).status_code == 404
    preview = c.get(f"{path}/preview?periods=3", headers=h).json()
    assert preview["fee_fen"] == 2_30 and preview["schedule"][0]["bill_date"] == "2026-05-01"
    body = {"periods": 3, "request_id": "ps1"}
    assert c.post(path, json=body, headers=stranger).status_code == 404
    first = c.post(path, json=body, headers=h)
    again = c.post(path, json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json()["plan_id"] == again.json()["plan_id"]
    r = c.post(path, json={"periods": 6, "request_id": "ps2"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "CREDIT_INSTALLMENT_NOT_ALLOWED"
    assert len(credit.list_plans(p, user)) == 2
    counters_match_ledger(p, user)
    assert_ledger_clean(p)
