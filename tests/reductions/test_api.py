"""Full-reduction campaigns over HTTP: operators only, 4xx for bad campaigns with nothing made,
the cashier's offer, and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qianbao.api import reductions as reductions_api
from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.platform.clock import clock
from tests.factories import LOGIN_PASSWORD, new_user, operator_headers
from tests.moneyout.helpers import at
from tests.reductions.test_at_the_cashier import D
from tests.trades.helpers import new_merchant


def test_campaigns_over_http(sqlite_platform):
    p = sqlite_platform
    try:
        at(D)
        c = TestClient(create_app(p, extra_routers=[reductions_api.router]))
        admin, auditor = operator_headers(p, "admin"), operator_headers(p, "auditor")
        m = new_merchant(p)
        body = {
            "name": "满100减10",
            "funder": "PLATFORM",
            "tiers": [{"threshold_fen": 100_00, "off_fen": 10_00}],
            "budget_fen": 500_00,
            "valid_from": D.isoformat(),
            "valid_until": "2026-11-12",
        }
        for change, code in (
            ({"tiers": [{"threshold_fen": 100, "off_fen": 100}]}, "REDUCTION_INVALID"),
            ({"budget_fen": 1.5}, "INVALID_ARGUMENT"),
            ({"valid_from": "soon"}, "REDUCTION_INVALID"),
        ):
            r = c.post("/api/v1/ops/reductions", json={**body, **change}, headers=admin)
            assert 400 <= r.status_code < 500 and r.json()["code"] == code, r.json()
        assert c.post("/api/v1/ops/reductions", json=body, headers=auditor).status_code == 403
        assert c.get("/api/v1/ops/reductions", headers=admin).json() == []
        r = c.post("/api/v1/ops/reductions", json=body, headers=admin)
        assert r.status_code == 201, r.json()
        campaign = r.json()["campaign_id"]
        user = new_user(p)
        phone = members.get_user(p, user)["phone"]
        token = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
        ut = {"Authorization": f"Bearer {token.json()['token']}"}
        offer = c.get(
            "/api/v1/reductions/offer", params={"merchant_id": m, "amount_fen": 150_00}, headers=ut
        ).json()
        assert (offer["offer_fen"], offer["pays_fen"]) == (10_00, 140_00)
        budget = c.get(f"/api/v1/ops/reductions/{campaign}/budget", headers=auditor).json()
        assert (budget["budget_fen"], budget["left_fen"]) == (500_00, 500_00)
        stopped = c.post(f"/api/v1/ops/reductions/{campaign}/stop", headers=admin).json()
        assert stopped["status"] == "STOPPED"
        offer = c.get(
            "/api/v1/reductions/offer", params={"merchant_id": m, "amount_fen": 150_00}, headers=ut
        ).json()
        assert offer["offer_fen"] == 0
        doc = c.get("/openapi.json").json()
        assert "/api/v1/ops/reductions" in doc["paths"]
        assert "REDUCTION_BUDGET_EXHAUSTED" in doc["info"]["description"]
    finally:
        clock.use_real_time()


def test_the_cashier_page_shows_the_offer(sqlite_platform):
    from qianbao.api import trades as trade_api
    from qianbao.payments import paylinks, trades
    from tests.reductions.test_at_the_cashier import _offer
    from tests.trades.helpers import req

    p = sqlite_platform
    try:
        at(D)
        m = new_merchant(p)
        _offer(p, [(100_00, 10_00), (200_00, 30_00)])
        buyer = new_user(p, balance_fen=300_00)
        c = TestClient(create_app(p, extra_routers=[trade_api.pages]))
        t = trades.create(p, req(m, 230_00), buyer)
        page = c.get(paylinks.path(p, t["id"])).text  # the buyer's pay link
        assert "−¥30.00 (¥200.00 to pay before coupons)" in page
        small = trades.create(p, req(m, 99_00), buyer)
        assert 'id="offer"' not in c.get(paylinks.path(p, small["id"])).text
    finally:
        clock.use_real_time()
