"""Issue 11 item 8: a score that cannot be gamed. One application per period, answers that
contradict the records refused, reasons without the points table, and the Huabei purchase
category taken from the merchant."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from qianbao.credit import service as credit
from qianbao.credit.errors import CategoryNotTheMerchants, LineExceeded
from qianbao.members import service as members
from qianbao.members.identity import age_years
from qianbao.members.merchant_category import set_category
from qianbao.platform.clock import TZ, clock
from qianbao.scoring import service as scoring
from qianbao.scoring.behaviour import BehaviourFeatures
from qianbao.scoring.errors import AnswerContradictsRecords, ApplicationTooSoon
from qianbao.scoring.guard import Known, contradictions
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean, make_platform, use_trained_card
from tests.credit.helpers import huabei_user, merchant
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.test_scoring_platform import ANSWERS

START = datetime(2026, 6, 1, 10, tzinfo=TZ)


def _answers(p) -> dict:
    names = set(scoring.active_card(p).inputs)
    return {k: v for k, v in ANSWERS.items() if k in names}


@pytest.fixture
def applicant(sqlite_platform, trained_registry):
    p = sqlite_platform
    use_trained_card(p, trained_registry)
    clock.set(START)
    client = TestClient(build_app(p))
    user = new_user(p, unit=0, balance_fen=100_000, password_free_fen=10_000)
    phone = members.get_user(p, user)["phone"]
    token = client.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
    return p, client, user, {"Authorization": f"Bearer {token.json()['token']}"}


def _apply(c, h, answers, request_id):
    body = {"answers": answers, "request_id": request_id}
    return c.post("/api/v1/me/score", headers=h, json=body)


def test_one_application_per_period_and_a_replay_is_still_the_first(applicant):
    p, c, user, h = applicant
    first = _apply(c, h, _answers(p), "apply-1")
    assert first.status_code == 200, first.text
    better = {**_answers(p), "housing": "rent"}
    for i in range(5):  # new request ids do not buy new tries
        r = _apply(c, h, better, f"apply-again-{i}")
        assert (r.status_code, r.json()["code"]) == (409, "APPLICATION_TOO_SOON"), r.text
    assert _apply(c, h, _answers(p), "apply-1").json()["score_id"] == first.json()["score_id"]
    assert len(scoring.history(p, user)) == 1
    clock.set(START + timedelta(days=29, hours=23))  # (the session has expired by now)
    with pytest.raises(ApplicationTooSoon):
        scoring.score_user(p, user, better, reason="APPLICATION", request_id="apply-2")
    clock.set(START + timedelta(days=30, hours=1))
    scoring.score_user(p, user, better, reason="APPLICATION", request_id="apply-2")
    assert len(scoring.history(p, user)) == 2
    scoring.rescore(p, user)  # the platform's own re-scoring is not an application
    assert len(scoring.history(p, user)) == 3


def test_the_period_is_configurable(tmp_path, trained_registry):
    p = make_platform("sqlite", tmp_path, score_application_period_days=7)
    try:
        use_trained_card(p, trained_registry)
        clock.set(START)
        user = new_user(p, unit=1)
        answers = _answers(p)
        scoring.score_user(p, user, answers, reason="APPLICATION", request_id="a1")
        clock.set(START + timedelta(days=7, minutes=1))
        scoring.score_user(p, user, answers, reason="APPLICATION", request_id="a2")
        assert len(scoring.history(p, user)) == 2
    finally:
        clock.use_real_time()
        p.close()


def test_an_age_that_contradicts_the_verified_id_is_refused(applicant):
    p, c, user, h = applicant
    real = age_years(members.birth_date_of(members.get_user(p, user)), clock.today())
    r = _apply(c, h, {**_answers(p), "age_in_years": real + 20}, "lie-1")
    assert (r.status_code, r.json()["code"]) == (400, "ANSWER_CONTRADICTS_RECORDS"), r.text
    assert scoring.history(p, user) == []
    r = _apply(c, h, {**_answers(p), "age_in_years": real}, "truth-1")
    assert r.status_code == 200, r.text


def test_a_clean_history_claimed_over_late_huabei_bills_is_refused():
    late = BehaviourFeatures(huabei_bills_overdue=1, max_overdue_days=5)
    clean = {"credit_history": "existing credits paid back duly till now"}
    assert contradictions(clean, Known(30, late, 0), "age_in_years")
    assert not contradictions(clean, Known(30, BehaviourFeatures(), 0), "age_in_years")
    honest = {"credit_history": "delay in paying off in the past"}
    assert not contradictions(honest, Known(30, late, 0), "age_in_years")
    assert contradictions({"other_installment_plans": "none"}, Known(30, late, 2), "age")


def test_no_other_installments_claimed_over_a_running_huabei_plan_is_refused(applicant):
    p, _, _, _ = applicant
    user = huabei_user(p, line_fen=500_000, balance_fen=0)
    credit.pay_merchant_with_huabei(p, user, merchant(p), 60_000, "plan-buy", installments=3)
    with pytest.raises(AnswerContradictsRecords):
        scoring.score_user(
            p, user, {**_answers(p), "other_installment_plans": "none"}, reason="APPLICATION"
        )
    scoring.score_user(
        p, user, {**_answers(p), "other_installment_plans": "stores"}, reason="APPLICATION"
    )


def test_the_user_sees_top_reasons_not_the_points_table(applicant):
    p, c, user, h = applicant
    assert _apply(c, h, _answers(p), "explain-1").status_code == 200
    mine = c.get("/api/v1/me/score", headers=h).json()
    assert "points_by_attribute" not in mine and "behaviour_points" not in mine
    assert 1 <= len(mine["reasons"]) <= 3
    for reason in mine["reasons"]:
        assert set(reason) == {"code", "dimension", "message"}
        assert "points" not in reason["message"] and "=" not in reason["message"]
    history = c.get("/api/v1/me/score/history", headers=h).json()
    assert all("points_by_attribute" not in row for row in history)
    _, key = members.create_operator(p, "risk-1", "admin")
    full = c.get(f"/api/v1/ops/users/{user}/score", headers={"Authorization": f"Bearer {key}"})
    assert full.json()["points_by_attribute"] and full.json()["reasons"][0]["points_lost"] > 0


def test_the_huabei_category_is_the_merchants_not_the_buyers(platform):
    p = platform
    user = huabei_user(p, line_fen=4_000_000, balance_fen=0)
    shop, clinic = merchant(p), merchant(p)
    set_category(p, clinic, "medical")
    with pytest.raises(CategoryNotTheMerchants):  # 40,000 CNY at a shop, declared "medical"
        credit.pay_merchant_with_huabei(
            p, user, shop, 3_500_000, "lie", PAY_PASSWORD, category="medical"
        )
    with pytest.raises(LineExceeded):  # above the everyday cap at an everyday merchant
        credit.pay_merchant_with_huabei(p, user, shop, 3_000_001, "cap", PAY_PASSWORD)
    first = credit.pay_merchant_with_huabei(p, user, clinic, 3_500_000, "clinic", PAY_PASSWORD)
    again = credit.pay_merchant_with_huabei(p, user, clinic, 3_500_000, "clinic", PAY_PASSWORD)
    assert first["category"] == "medical" and again["id"] == first["id"]
    assert credit.summary(p, user)["available_medical_fen"] == 4_000_000 - 3_500_000
    assert_ledger_clean(p)


def test_operators_classify_merchants_over_http(sqlite_platform):
    p = sqlite_platform
    _, key = members.create_operator(p, "classifier", "admin")
    h = {"Authorization": f"Bearer {key}"}
    c = TestClient(build_app(p))
    shop = merchant(p)
    r = c.put(f"/api/v1/ops/merchants/{shop}/category", json={"category": "medical"}, headers=h)
    assert r.json() == {"merchant_id": shop, "category": "medical"}
    r = c.put(f"/api/v1/ops/merchants/{shop}/category", json={"category": "casino"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (400, "MERCHANT_CATEGORY_INVALID")
