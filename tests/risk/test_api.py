"""Risk over HTTP: the context read from headers (and the forwarded IP only from a trusted
proxy), a challenged payment's 428 body and its answer, and the operators' endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user, operator_headers
from tests.risk.conftest import write_rules
from tests.trades.helpers import balance, new_merchant

DEVICE = {
    "X-Device-Id": "iphone-7f3a",
    "User-Agent": "QianbaoApp/3.1",
    "X-Geo-Location": "31.2,121.5",
}


def _user_headers(p, user_id: str) -> dict[str, str]:
    token, _ = members.login(p, members.get_user(p, user_id)["phone"], LOGIN_PASSWORD)
    return {"Authorization": f"Bearer {token}", **DEVICE}


def test_context_challenge_answer_and_the_ops_console(tmp_path: Path):
    rules = write_rules(tmp_path / "rules.yaml")
    extra = {"risk": {"rules_path": str(rules), "trusted_proxies": ["testclient"]}}
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        m, u = new_merchant(p), new_user(p, balance_fen=100_000_00)
        admin = operator_headers(p, "admin")
        with TestClient(create_app(p)) as c:
            h = {**_user_headers(p, u), "X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
            body = {
                "merchant_id": m,
                "amount_fen": 12_00,
                "request_id": "a1",
                "pay_password": PAY_PASSWORD,
            }
            paid = c.post("/api/v1/payments", json=body, headers=h)
            assert paid.status_code == 200, paid.text
            found = c.get(
                f"/api/v1/ops/risk/decisions?payment_id={paid.json()['payment_id']}", headers=admin
            ).json()["decisions"]
            context = found[0]["inputs"]["context"]
            assert context == {
                "device_id": "iphone-7f3a",
                "ip": "198.51.100.7",
                "user_agent": "QianbaoApp/3.1",
                "location": "31.2,121.5",
            }
            gateway = c.post(
                "/gateway.do", data={"app_id": "x"}, headers=h
            )  # the merchant's server
            assert gateway.status_code < 500
            assert c.get("/api/v1/ops/risk/decisions?payment_id=x", headers=h).status_code in (
                401,
                403,
            )

            big = c.post(
                "/api/v1/payments",
                json={**body, "amount_fen": 6_000_00, "request_id": "a2"},
                headers=h,
            )
            assert big.status_code == 428, big.text
            held = big.json()
            assert held["code"] == "RISK_CHALLENGE_REQUIRED" and held["challenge_id"]
            url = f"/api/v1/risk/challenges/{held['challenge_id']}/answer"
            wrong = c.post(url, json={"pay_password": "000000"}, headers=h)
            assert wrong.status_code == 401 and wrong.json()["code"] == "WRONG_PAY_PASSWORD"
            done = c.post(url, json={"pay_password": PAY_PASSWORD}, headers=h)
            assert done.status_code == 200, done.text
            assert done.json()["result"]["amount_fen"] == 6_000_00
            assert c.post(url, json={"pay_password": PAY_PASSWORD}, headers=h).status_code == 409

            frozen = c.post(
                "/api/v1/ops/risk/freezes",
                headers=admin,
                json={"party_kind": "USER", "party_id": u, "reason": "ATO"},
            )
            assert frozen.status_code == 200 and frozen.json()["status"] == "ACTIVE"
            refused = c.post("/api/v1/payments", json={**body, "request_id": "a3"}, headers=h)
            assert refused.status_code == 403 and refused.json()["code"] == "PARTY_FROZEN"
            cases = c.get("/api/v1/ops/risk/cases", headers=admin).json()["cases"]
            case_id = cases[0]["id"]
            c.post(f"/api/v1/ops/risk/cases/{case_id}/assign", json={}, headers=admin)
            c.post(
                f"/api/v1/ops/risk/cases/{case_id}/notes", json={"text": "called"}, headers=admin
            )
            closed = c.post(
                f"/api/v1/ops/risk/cases/{case_id}/close",
                json={"label": "CONFIRMED_FRAUD"},
                headers=admin,
            )
            assert closed.json()["label"] == "CONFIRMED_FRAUD" and len(closed.json()["notes"]) == 2
            bad = c.post(
                f"/api/v1/ops/risk/cases/{case_id}/close", json={"label": "x"}, headers=admin
            )
            assert bad.status_code == 400 and bad.json()["code"] == "CASE_LABEL_INVALID"
            unfrozen = c.post(
                "/api/v1/ops/risk/freezes/unfreeze",
                headers=admin,
                json={"party_kind": "USER", "party_id": u, "reason": "ok"},
            )
            assert unfrozen.json()["status"] == "LIFTED"
            assert c.get("/api/v1/ops/risk/rules", headers=admin).json()["version"] == "t-1"
            assert c.post("/api/v1/ops/risk/rules/reload", headers=admin).status_code == 200
        assert balance(p, u) == 100_000_00 - 12_00 - 6_000_00
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()
        p.close()
