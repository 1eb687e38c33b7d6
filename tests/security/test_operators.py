"""Issue 11 item 7: operators with least privilege, maker-checker on money-moving actions, an
append-only audit log that auditors read, one-time passwords for approvals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from qianbao.credit import service as credit
from qianbao.payments import secured, trades
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean, make_platform
from tests.credit.helpers import huabei_user
from tests.factories import PAY_PASSWORD, approve_via, new_user, operator_headers
from tests.trades.helpers import account_fen, balance, new_merchant, req


@pytest.fixture
def ops(sqlite_platform):
    p = sqlite_platform
    c = TestClient(build_app(p), raise_server_exceptions=False)
    heads = {role: operator_headers(p, role) for role in members_roles()}
    return p, c, heads


def members_roles() -> list[str]:
    return ["admin", "risk", "finance", "support", "auditor"]


def _received_trade(p, amount_fen: int) -> tuple[str, str]:
    m = new_merchant(p)
    buyer = new_user(p, unit=1, balance_fen=amount_fen)
    t = trades.create(p, req(m, amount_fen, product=trades.SECURED), buyer)
    t = trades.pay(p, t["id"], buyer, PAY_PASSWORD)
    secured.ship(p, m, t["id"])
    secured.confirm_receipt(p, buyer, t["id"], PAY_PASSWORD)
    return t["id"], buyer


LEAST_PRIVILEGE = [
    # (role, method, path, allowed)
    ("auditor", "POST", "/api/v1/ops/ledger/days/2026-01-01/close", False),
    ("support", "POST", "/api/v1/ops/ledger/days/2026-01-01/close", False),
    ("risk", "POST", "/api/v1/ops/settlement/run", False),
    ("finance", "POST", "/api/v1/ops/settlement/run", True),
    ("support", "GET", "/api/v1/ops/audit", False),
    ("finance", "GET", "/api/v1/ops/audit", False),
    ("auditor", "GET", "/api/v1/ops/audit", True),
    ("auditor", "POST", "/api/v1/ops/bank-orders/resolve", False),
    ("support", "POST", "/api/v1/ops/bank-orders/resolve", False),
]


def test_each_role_holds_only_its_permissions(ops):
    _, c, heads = ops
    for role, method, path, allowed in LEAST_PRIVILEGE:
        r = c.request(method, path, headers=heads[role], json={})
        if allowed:
            assert r.status_code != 403, (role, path, r.text)
        else:
            assert (r.status_code, r.json()["code"]) == (403, "PERMISSION_DENIED"), (role, path)


def test_a_compensation_is_paid_only_when_a_second_operator_approves(ops):
    p, c, heads = ops
    trade_id, buyer = _received_trade(p, 80_00)
    form = {"amount": "80.00", "reason": "seller sent a brick; police report 123"}
    url = f"/api/v1/ops/trades/{trade_id}/compensation"
    assert c.post(url, data=form, headers=heads["auditor"]).status_code == 403
    proposed = c.post(url, data=form, headers=heads["support"])
    assert proposed.status_code == 202 and proposed.json()["status"] == "PENDING"
    approval = proposed.json()["approval_id"]
    assert balance(p, buyer) == 0 and account_fen(p, "compensation_expense", 1) == 0
    own = c.post(f"/api/v1/ops/approvals/{approval}/approve", json={}, headers=heads["support"])
    assert (own.status_code, own.json()["code"]) == (403, "PERMISSION_DENIED")
    risk = c.post(f"/api/v1/ops/approvals/{approval}/approve", json={}, headers=heads["risk"])
    assert risk.status_code == 403  # risk may not approve payments
    ok = c.post(f"/api/v1/ops/approvals/{approval}/approve", json={}, headers=heads["finance"])
    assert ok.status_code == 200 and ok.json()["status"] == "APPROVED", ok.text
    again = c.post(f"/api/v1/ops/approvals/{approval}/approve", json={}, headers=heads["admin"])
    assert (again.status_code, again.json()["code"]) == (409, "APPROVAL_NOT_PENDING")
    assert balance(p, buyer) == 80_00 and account_fen(p, "compensation_expense", 1) == 80_00
    second = approve_via(c, c.post(url, data=form, headers=heads["support"]), heads["finance"])
    assert second.json()["code"] == "ALREADY_COMPENSATED"  # recorded FAILED, nothing paid
    failed = c.get("/api/v1/ops/approvals?status=FAILED", headers=heads["auditor"]).json()
    assert [a["result"]["code"] for a in failed] == ["ALREADY_COMPENSATED"]
    assert balance(p, buyer) == 80_00
    assert_ledger_clean(p)


def test_the_maker_cannot_check_their_own_request_and_a_rejection_runs_nothing(ops):
    p, c, heads = ops
    trade_id, buyer = _received_trade(p, 10_00)
    url = f"/api/v1/ops/trades/{trade_id}/compensation"
    form = {"amount": "10.00", "reason": "proven fraud"}
    approval = c.post(url, data=form, headers=heads["admin"]).json()["approval_id"]
    own = c.post(f"/api/v1/ops/approvals/{approval}/approve", json={}, headers=heads["admin"])
    assert (own.status_code, own.json()["code"]) == (403, "APPROVAL_BY_MAKER")
    no = c.post(
        f"/api/v1/ops/approvals/{approval}/reject",
        json={"note": "no proof"},
        headers=heads["finance"],
    )
    assert no.json()["status"] == "REJECTED" and no.json()["note"] == "no proof"
    late = c.post(f"/api/v1/ops/approvals/{approval}/approve", json={}, headers=heads["finance"])
    assert late.status_code == 409 and balance(p, buyer) == 0
    assert_ledger_clean(p)


def test_a_huabei_line_change_waits_for_risk_approval(ops):
    p, c, heads = ops
    user = huabei_user(p, line_fen=500_000)
    url = f"/api/v1/ops/huabei/users/{user}/line"
    body = {"line_fen": 200_000, "reason": "income fell"}
    assert c.put(url, json=body, headers=heads["finance"]).status_code == 403
    proposed = c.put(url, json=body, headers=heads["risk"])
    assert proposed.status_code == 202 and credit.summary(p, user)["line_fen"] == 500_000
    r = approve_via(c, proposed, heads["admin"])
    assert r.status_code == 200 and credit.summary(p, user)["line_fen"] == 200_000


def test_every_operator_request_is_audited_and_the_log_is_append_only(ops):
    p, c, heads = ops
    c.get("/api/v1/ops/users/0", headers=heads["support"])  # a refused look-up counts too
    c.post("/api/v1/ops/settlement/run", headers=heads["risk"])  # refused: 403
    c.post("/api/v1/ops/ledger/check", headers={"Authorization": "Bearer ok_bad.key"})
    rows = c.get("/api/v1/ops/audit?limit=10", headers=heads["auditor"]).json()
    seen = [(r["method"], r["action"], r["outcome"], r["code"]) for r in rows]
    assert ("GET", "/api/v1/ops/users/{user_id}", 404, "USER_NOT_FOUND") in seen
    assert ("POST", "/api/v1/ops/settlement/run", 403, "PERMISSION_DENIED") in seen
    refused = [r for r in rows if r["outcome"] == 401]
    assert refused and refused[0]["operator_id"] == ""
    look_up = next(r for r in rows if r["action"] == "/api/v1/ops/users/{user_id}")
    assert look_up["target"] == {"user_id": "0"} and look_up["role"] == "support"
    engine = sa.create_engine(p.settings.global_database_url)
    with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
        conn.execute(sa.text("UPDATE operator_audit SET outcome = 200"))
    with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM operator_audit"))
    engine.dispose()


def test_approvals_take_a_one_time_password_once_enrolled(ops):
    p, c, heads = ops
    trade_id, _ = _received_trade(p, 5_00)
    uri = c.post("/api/v1/ops/me/otp", headers=heads["finance"]).json()["provisioning_uri"]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    assert c.post("/api/v1/ops/me/otp", headers=heads["finance"]).status_code == 409
    url = f"/api/v1/ops/trades/{trade_id}/compensation"
    approval = c.post(url, data={"amount": "5.00", "reason": "fraud"}, headers=heads["support"])
    approve = f"/api/v1/ops/approvals/{approval.json()['approval_id']}/approve"
    r = c.post(approve, json={}, headers=heads["finance"])
    assert (r.status_code, r.json()["code"]) == (401, "OTP_REQUIRED")
    wrong = str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6)
    r = c.post(approve, json={}, headers={**heads["finance"], "X-Operator-OTP": wrong})
    assert r.json()["code"] == "OTP_INVALID"
    code = pyotp.TOTP(secret).now()
    r = c.post(approve, json={}, headers={**heads["finance"], "X-Operator-OTP": code})
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    other = c.post(url, data={"amount": "1.00", "reason": "again"}, headers=heads["support"])
    replay = f"/api/v1/ops/approvals/{other.json()['approval_id']}/reject"
    r = c.post(replay, json={}, headers={**heads["finance"], "X-Operator-OTP": code})
    assert r.json()["code"] == "OTP_INVALID"  # a code is good once


def test_production_style_otp_requirement_refuses_an_unenrolled_checker(tmp_path):
    p = make_platform("sqlite", tmp_path, operator_otp_required=True)
    try:
        c = TestClient(build_app(p))
        maker, checker = operator_headers(p, "support"), operator_headers(p, "finance")
        trade_id, _ = _received_trade(p, 3_00)
        url = f"/api/v1/ops/trades/{trade_id}/compensation"
        r = approve_via(
            c, c.post(url, data={"amount": "3.00", "reason": "x"}, headers=maker), checker
        )
        assert (r.status_code, r.json()["code"]) == (401, "OTP_REQUIRED")
    finally:
        p.close()


def test_the_audit_log_refuses_updates_and_deletes_on_every_engine(platform):
    from qianbao.backoffice import audit

    p = platform
    audit.record(p, audit.Entry("op-1", "admin", "POST", "/api/v1/ops/x", {"id": "1"}, 200))
    for statement in ("UPDATE operator_audit SET outcome = 500", "DELETE FROM operator_audit"):
        with pytest.raises(Exception, match="append-only"), p.global_db.transaction() as tx:
            tx.execute(statement)
    assert [r["outcome"] for r in audit.read(p)] == [200]


def test_a_balance_adjustment_is_booked_once_on_approval_and_never_overdraws(platform):
    p = platform
    c = TestClient(build_app(p), raise_server_exceptions=False)
    maker, checker = operator_headers(p, "finance"), operator_headers(p, "finance")
    user = new_user(p, unit=1, balance_fen=1_000)
    body = {
        "user_id": user,
        "amount_fen": 500,
        "reason": "fee charged twice",
        "request_id": "adj-1",
    }
    assert (
        c.post(
            "/api/v1/ops/adjustments", json=body, headers=operator_headers(p, "support")
        ).status_code
        == 403
    )
    proposed = c.post("/api/v1/ops/adjustments", json=body, headers=maker)
    assert proposed.status_code == 202 and balance(p, user) == 1_000
    first = approve_via(c, proposed, checker)
    assert first.status_code == 200 and balance(p, user) == 1_500, first.text
    again = approve_via(c, c.post("/api/v1/ops/adjustments", json=body, headers=maker), checker)
    assert again.json()["result"]["adjustment_id"] == first.json()["result"]["adjustment_id"]
    assert balance(p, user) == 1_500  # the same request id changes nothing
    take = {**body, "amount_fen": -2_000, "request_id": "adj-2", "reason": "recover"}
    r = approve_via(c, c.post("/api/v1/ops/adjustments", json=take, headers=maker), checker)
    assert (r.status_code, r.json()["code"]) == (400, "BALANCE_NOT_ENOUGH")
    bad = c.post("/api/v1/ops/adjustments", json={**body, "amount_fen": 0}, headers=maker)
    assert (bad.status_code, bad.json()["code"]) == (400, "ADJUSTMENT_INVALID")
    assert balance(p, user) == 1_500 and account_fen(p, "adjustment_expense", 1) == 500
    assert_ledger_clean(p)
