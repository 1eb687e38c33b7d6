"""The wallet's Huabei, score and coupon pages over HTTP (no browser): bad input is a 4xx with its
code and changes nothing; a stranger's bill or plan is a 404; forms need their CSRF token."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from qianbao.credit import dayend
from qianbao.credit import service as credit
from qianbao.ledger.service import get_account
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, merchant
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user, page_csrf


def _log_in(c: TestClient, p, user_id: str, path: str = "/wallet/huabei") -> str:
    csrf = page_csrf(c, path)
    phone = members.get_user(p, user_id)["phone"]
    form = {"phone": phone, "password": LOGIN_PASSWORD, "next": path, "csrf_token": csrf}
    assert c.post("/wallet/login", data=form, follow_redirects=False).status_code == 303
    return page_csrf(c, path)


@pytest.fixture
def billed(sqlite_platform):
    """A user with a cut bill of 300 yuan (and 2,000 yuan in the wallet), logged in."""
    p = sqlite_platform
    at(date(2026, 3, 2))
    user = new_user(p, balance_fen=2_000_00, password_free_fen=0)
    credit.open_credit_account(p, user, "open-1")
    credit.pay_merchant_with_huabei(p, user, merchant(p), 300_00, "buy-1", PAY_PASSWORD)
    at(date(2026, 4, 1))
    dayend.start_of_day(p, date(2026, 4, 1))
    at(date(2026, 4, 2))
    c = TestClient(build_app(p))
    csrf = _log_in(c, p, user)
    bill_id = credit.list_statements(p, user)[0]["statement_id"]
    return p, c, user, csrf, bill_id


def _state(p, user: str) -> tuple[int, int, int, int]:
    bill = credit.list_statements(p, user)[0]
    wallet = get_account(p.db_for(user), payments.user_account(user))["balance_fen"]
    plans = credit.list_plans(p, user)
    return bill["paid_fen"], len(credit.repayments(p, user)), len(plans), wallet


def test_bad_repayments_are_refused_and_change_nothing(billed):
    p, c, user, csrf, _ = billed
    before = _state(p, user)
    base = {"csrf_token": csrf, "pay_password": PAY_PASSWORD, "choice": "other"}
    cases = [
        ({"amount": "300.01"}, "CREDIT_REPAYMENT_EXCEEDS_OWED"),  # above the bill
        ({"amount": "0"}, "AMOUNT_INVALID"),
        ({"amount": "0.00"}, "AMOUNT_INVALID"),
        ({"amount": "abc"}, "INVALID_ARGUMENT"),
        ({"amount": "-5"}, None),
        ({"amount": "1e3"}, "INVALID_ARGUMENT"),
        ({"amount": ""}, "INVALID_ARGUMENT"),
        ({"amount": "10", "pay_password": "000000"}, "WRONG_PAY_PASSWORD"),
        ({"amount": "10", "pay_password": ""}, "PAY_PASSWORD_REQUIRED"),
        ({"choice": "everything"}, "INVALID_ARGUMENT"),
        ({"choice": "full", "full_fen": "lots"}, "INVALID_ARGUMENT"),
        ({"choice": "full", "full_fen": "99999999"}, "CREDIT_REPAYMENT_EXCEEDS_OWED"),
        ({"amount": "9" * 30}, None),  # longer than the field allows
    ]
    for i, (fields, code) in enumerate(cases):
        answer = c.post("/wallet/huabei/repay", data={**base, "request_id": f"bad-{i}", **fields})
        assert 400 <= answer.status_code < 500, (fields, answer.status_code, answer.text[:300])
        if code is not None:
            assert code in answer.text, (fields, answer.text[:500])
    no_id = c.post("/wallet/huabei/repay", data={**base, "amount": "10"})
    assert 400 <= no_id.status_code < 500
    assert _state(p, user) == before
    assert_ledger_clean(p)


def test_a_form_without_its_csrf_token_repays_nothing(billed):
    p, c, user, _, _ = billed
    before = _state(p, user)
    form = {"choice": "other", "amount": "10", "request_id": "x1", "pay_password": PAY_PASSWORD}
    answer = c.post("/wallet/huabei/repay", data=form)
    assert answer.status_code == 403 and answer.json()["code"] == "CSRF_TOKEN_INVALID"
    assert _state(p, user) == before


def test_a_repeated_repay_form_repays_once(billed):
    p, c, user, csrf, _ = billed
    page = c.get("/wallet/huabei").text
    request_id = re.search(r'name="request_id" value="([0-9a-f]{32})"', page)
    assert request_id and 'id="minimum-amount">¥30.00' in page
    form = {"csrf_token": csrf, "request_id": request_id.group(1), "choice": "minimum"}
    form |= {"minimum_fen": "3000", "full_fen": "30000", "pay_password": PAY_PASSWORD}
    for _ in range(3):
        answer = c.post("/wallet/huabei/repay", data=form, follow_redirects=False)
        assert answer.status_code == 303
    assert _state(p, user)[:2] == (30_00, 1)
    assert _state(p, user)[3] == 2_000_00 - 30_00
    assert_ledger_clean(p)


def test_someone_elses_bill_and_plan_are_not_found(billed):
    p, c, user, csrf, bill_id = billed
    plan = credit.install_bill(p, user, bill_id, 3, "split-owner")
    stranger = new_user(p)
    other = TestClient(build_app(p))
    other_csrf = _log_in(other, p, stranger)
    assert "CREDIT_ACCOUNT_NOT_FOUND" not in other.get("/wallet/huabei").text  # the open form
    for path in (
        f"/wallet/huabei/bills/{bill_id}",
        f"/wallet/huabei/bills/{bill_id}/split?periods=3",
        f"/wallet/huabei/plans/{plan['id']}",
        "/wallet/huabei/bills/not-an-id",
        "/wallet/huabei/plans/123",
    ):
        answer = other.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
    form = {"csrf_token": other_csrf, "periods": "6", "request_id": "steal"}
    answer = other.post(f"/wallet/huabei/bills/{bill_id}/split", data=form)
    assert answer.status_code == 404
    assert len(credit.list_plans(p, user)) == 1 and credit.list_plans(p, stranger) == []


def test_bad_split_requests_are_refused_and_book_nothing(billed):
    p, c, user, csrf, bill_id = billed
    for periods in ("", "5", "abc", "-3", "120", "999"):
        answer = c.get(f"/wallet/huabei/bills/{bill_id}/split?periods={periods}")
        assert 400 <= answer.status_code < 500, (periods, answer.status_code)
        form = {"csrf_token": csrf, "periods": periods, "request_id": f"s-{periods}"}
        answer = c.post(f"/wallet/huabei/bills/{bill_id}/split", data=form)
        assert 400 <= answer.status_code < 500, (periods, answer.status_code)
    assert credit.list_plans(p, user) == []
    preview = c.get(f"/wallet/huabei/bills/{bill_id}/split?periods=6")
    assert preview.status_code == 200 and 'id="split-fee">¥13.50' in preview.text  # 4.5 %
    form = {"csrf_token": csrf, "periods": "6", "request_id": "s-ok"}
    for _ in range(2):  # a double submit splits once
        answer = c.post(f"/wallet/huabei/bills/{bill_id}/split", data=form, follow_redirects=False)
        assert answer.status_code == 303
    plans = credit.list_plans(p, user)
    assert len(plans) == 1 and plans[0]["fee_fen"] == 13_50
    again = c.post(
        f"/wallet/huabei/bills/{bill_id}/split",
        data={**form, "request_id": "s-again"},
    )
    assert again.status_code == 409 and "CREDIT_INSTALLMENT_NOT_ALLOWED" in again.text
    assert_ledger_clean(p)


def test_pages_without_login_show_the_login_form_and_leak_nothing(billed):
    p, _, user, _, bill_id = billed
    anonymous = TestClient(build_app(p))
    for path in ("/wallet/huabei", f"/wallet/huabei/bills/{bill_id}", "/wallet/score"):
        page = anonymous.get(path)
        assert page.status_code == 200 and 'id="login"' in page.text
        assert "300.00" not in page.text
    page = anonymous.get("/wallet/coupons")
    assert 'id="login"' in page.text


def test_claiming_a_coupon_from_no_campaign_is_a_4xx(billed):
    p, c, user, csrf, _ = billed  # the session's token (no campaign: no form on the page)
    for campaign_id in ("nope", "123", ""):
        form = {"csrf_token": csrf, "campaign_id": campaign_id, "request_id": "c1"}
        answer = c.post("/wallet/coupons/claim", data=form)
        assert 400 <= answer.status_code < 500, (campaign_id, answer.status_code)
    assert c.get("/wallet/score").status_code == 200  # no score yet: a page that says so
    assert 'id="no-score"' in c.get("/wallet/score").text


def test_splitting_one_purchase_shows_the_fee_first_and_books_once(billed):
    p, c, user, csrf, _ = billed
    shop = merchant(p)
    billed_purchase = credit.list_purchases(p, user)[0]["id"]  # on the April bill already
    fresh = credit.pay_merchant_with_huabei(p, user, shop, 200_00, "buy-2", PAY_PASSWORD)["id"]
    stranger = TestClient(build_app(p))
    stranger_csrf = _log_in(stranger, p, new_user(p))
    path = f"/wallet/huabei/purchases/{fresh}/split"
    assert stranger.get(f"{path}?periods=3").status_code == 404
    taken = stranger.post(
        path, data={"csrf_token": stranger_csrf, "periods": "3", "request_id": "x"}
    )
    assert taken.status_code == 404
    for periods in ("9", "x", "", "0"):  # 9 periods is for bills only
        assert 400 <= c.get(f"{path}?periods={periods}").status_code < 500, periods
    refused = c.get(f"/wallet/huabei/purchases/{billed_purchase}/split?periods=3")
    assert refused.status_code == 409 and "CREDIT_INSTALLMENT_NOT_ALLOWED" in refused.text
    preview = c.get(f"{path}?periods=6")
    assert preview.status_code == 200 and 'id="split-fee">¥9.00' in preview.text  # 4.5 %
    assert credit.list_plans(p, user) == []
    form = {"csrf_token": csrf, "periods": "6", "request_id": "ps-1"}
    for _ in range(2):
        assert c.post(path, data=form, follow_redirects=False).status_code == 303
    plans = credit.list_plans(p, user)
    assert len(plans) == 1 and (plans[0]["kind"], plans[0]["fee_fen"]) == ("PURCHASE", 9_00)
    summary = credit.summary(p, user)
    assert summary["unbilled_fen"] == 0 and summary["installment_outstanding_fen"] == 200_00
    again = c.post(path, data={**form, "request_id": "ps-2"})
    assert again.status_code == 409
    counters_match_ledger(p, user)
    assert_ledger_clean(p)
