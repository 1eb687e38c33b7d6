"""Yu'e Bao over HTTP: the API (OpenAPI documented, bad input a 4xx with nothing moved) and the
wallet page."""

from __future__ import annotations

from datetime import date as D

from fastapi.testclient import TestClient

from qianbao.api import wealth as wealth_api
from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.platform.runtime import Platform
from qianbao.wealth import service as yeb
from tests.conftest import assert_ledger_clean
from tests.factories import LOGIN_PASSWORD, card_of, new_user, operator_headers, page_csrf
from tests.wealth.helpers import at, end, publish, start

MON, TUE = D(2026, 6, 15), D(2026, 6, 16)


def _snapshot(p: Platform) -> list[object]:
    rows: list[object] = []
    for db in p.units:
        with db.read() as tx:
            rows.append(
                [tuple(r) for r in tx.all("SELECT id, balance_fen FROM accounts ORDER BY id")]
            )
            rows.append(tx.scalar("SELECT COUNT(*) FROM yuebao_orders"))
    return rows


def test_api_subscribe_redeem_read_and_refuse_bad_input(sqlite_yp: Platform) -> None:
    p = sqlite_yp
    at(MON, 10)
    user = new_user(p, balance_fen=300_000)
    other = new_user(p, balance_fen=1_000)
    client = TestClient(create_app(p, extra_routers=[wealth_api.router, wealth_api.pages]))

    def login(user_id: str) -> dict[str, str]:
        phone = members.get_user(p, user_id)["phone"]
        t = client.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
        return {"Authorization": f"Bearer {t.json()['token']}"}

    h, ho = login(user), login(other)
    sub = {"amount_fen": 200_000, "request_id": "api-1"}
    first = client.post("/api/v1/me/yuebao/subscriptions", json=sub, headers=h)
    assert first.status_code == 201, first.text
    assert (
        client.post("/api/v1/me/yuebao/subscriptions", json=sub, headers=h).json() == first.json()
    )
    before = _snapshot(p)
    bad = [
        ({"amount_fen": 0, "request_id": "b1"}, 400),
        ({"amount_fen": -1, "request_id": "b2"}, 400),
        ({"amount_fen": 1.5, "request_id": "b3"}, 422),
        ({"amount_fen": "100", "request_id": "b4"}, 422),
        ({"amount_fen": 10**16, "request_id": "b5"}, 400),
        ({"amount_fen": 100, "request_id": "b6", "source": "GOLD"}, 422),
        (
            {"amount_fen": 100, "request_id": "b7", "source": "CARD", "card_id": card_of(p, other)},
            404,
        ),
        ({"amount_fen": 100, "request_id": ""}, 422),
        ({"amount_fen": 100, "request_id": "b8", "extra": 1}, 422),
        ({"amount_fen": 199_999, "request_id": "api-1"}, 409),  # the key with another body
        ({"amount_fen": 900_000, "request_id": "b9"}, 400),  # more than the balance
    ]
    for body, status in bad:
        r = client.post("/api/v1/me/yuebao/subscriptions", json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert "code" in r.json() and "message" in r.json()
    r = client.post(
        "/api/v1/me/yuebao/redemptions", json={"amount_fen": 1, "request_id": "r0"}, headers=h
    )
    assert r.status_code == 400 and r.json()["code"] == "YUEBAO_SHARES_NOT_ENOUGH"  # pending
    order_id = first.json()["id"]
    assert client.get(f"/api/v1/me/yuebao/orders/{order_id}", headers=ho).status_code == 404
    assert client.get("/api/v1/me/yuebao", headers={}).status_code == 401
    assert _snapshot(p) == before
    publish(p, {MON: "0.5000", TUE: "0.5000"})
    end(p, MON)
    start(p, TUE)
    at(TUE, 9)
    h = login(user)
    fast = {"amount_fen": 50_000, "request_id": "f1", "mode": "FAST"}
    assert client.post("/api/v1/me/yuebao/redemptions", json=fast, headers=h).status_code == 201
    held = client.get("/api/v1/me/yuebao", headers=h).json()
    assert (held["shares_fen"], held["fast_redeem_left_fen"]) == (150_000, 950_000)
    end(p, TUE)
    h = login(user)  # the business clock moved past the session's lifetime
    income = client.get("/api/v1/me/yuebao/income", headers=h).json()
    assert income == [{"day": "2026-06-16", "income_fen": 7, "shares_after_fen": 150_007}]
    assert client.get("/api/v1/yuebao/yield?through=2026-06-16").json()["percent"] is None
    assert client.get("/api/v1/yuebao/yield?through=June").status_code == 400
    ops = operator_headers(p, "auditor")
    recon = client.get("/api/v1/ops/yuebao/reconciliations/2026-06-16", headers=ops).json()
    assert [r["status"] for r in recon] == ["BALANCED", "BALANCED"]
    schema = client.get("/openapi.json").json()
    for path in (
        "/api/v1/me/yuebao/subscriptions",
        "/api/v1/me/yuebao/redemptions",
        "/api/v1/me/yuebao",
    ):
        assert path in schema["paths"]
    assert "YUEBAO_FAST_LIMIT_EXCEEDED" in schema["info"]["description"]
    assert_ledger_clean(p)


def test_wallet_page(sqlite_yp: Platform) -> None:
    p = sqlite_yp
    at(MON, 10)
    user = new_user(p, balance_fen=100_000)
    client = TestClient(create_app(p, extra_routers=[wealth_api.router, wealth_api.pages]))
    assert "login-form" in client.get("/wallet/yuebao").text
    csrf = {"csrf_token": page_csrf(client, "/wallet/yuebao")}  # as the page's forms carry it
    phone = members.get_user(p, user)["phone"]
    r = client.post(
        "/wallet/yuebao/login", data={"phone": phone, "password": LOGIN_PASSWORD, **csrf}
    )
    assert r.status_code == 200 and 'id="holdings"' in r.text
    form = {"action": "subscribe", "amount": "123.45", "request_id": "w1", "source": "BALANCE"}
    form |= csrf
    page = client.post("/wallet/yuebao/order", data=form)
    assert page.status_code == 200 and "¥123.45" in page.text and 'id="done"' in page.text
    assert yeb.holdings(p, user)["pending_fen"] == 12_345
    bad = client.post("/wallet/yuebao/order", data=form | {"amount": "1.234", "request_id": "w2"})
    assert bad.status_code == 400 and 'id="error"' in bad.text
    assert yeb.holdings(p, user)["pending_fen"] == 12_345
