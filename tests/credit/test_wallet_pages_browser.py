"""The wallet's Huabei, score and coupon pages in a real headless Chromium: the user sees a bill,
repays it (the minimum, then the rest; a repeated submit repays once), splits the next bill into
installments after seeing the fee, reads the plan; reads the score's five dimensions and history;
claims a coupon."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from qianbao.credit import dayend
from qianbao.credit import service as credit
from qianbao.marketing import service as marketing
from qianbao.members import service as members
from qianbao.platform.clock import TZ
from tests.browser import wallet_login
from tests.conftest import assert_ledger_clean, use_trained_card
from tests.credit.helpers import at, counters_match_ledger, merchant
from tests.factories import PAY_PASSWORD, new_user

pytestmark = pytest.mark.browser

FORM_ENTRIES = "(sel) => Array.from(new FormData(document.querySelector(sel)).entries())"
RESUBMIT = """([action, entries]) => {
  const f = document.createElement('form'); f.method = 'post'; f.action = action;
  for (const [k, v] of entries) {
    const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v;
    f.appendChild(i);
  }
  document.body.appendChild(f); f.submit();
}"""


def _repay(page, choice: str) -> list[list[str]]:
    """Repay with one of the form's choices; returns the form as it was submitted."""
    page.check(f"#choice-{choice}")
    page.fill("#pay-password", PAY_PASSWORD)
    entries = page.evaluate(FORM_ENTRIES, "#repay-form")
    page.click("#repay")
    page.wait_for_selector("#notice")
    return entries


def test_a_user_repays_a_bill_then_splits_the_next_one(sqlite_platform, site, page):
    p = sqlite_platform
    at(date(2026, 3, 2))
    user = new_user(p, balance_fen=2_000_00, password_free_fen=0)
    credit.open_credit_account(p, user, "open-page")
    shop = merchant(p)
    credit.pay_merchant_with_huabei(p, user, shop, 300_00, "buy-1", PAY_PASSWORD)
    at(date(2026, 4, 1))
    dayend.start_of_day(p, date(2026, 4, 1))  # the bill day: the March bill is cut
    at(date(2026, 4, 2))
    phone = members.get_user(p, user)["phone"]
    wallet_login(page, site, phone, "/wallet/huabei")
    page.wait_for_selector("#current-bill")
    assert page.inner_text("#bill-total") == "¥300.00"
    assert page.inner_text("#minimum") == "¥30.00"
    assert page.inner_text("#due-date") == "2026-04-10"
    assert "¥300.00" in page.inner_text("#bill-items")

    entries = _repay(page, "minimum")
    assert page.inner_text("#bill-paid") == "¥30.00"
    page.evaluate(RESUBMIT, ["/wallet/huabei/repay", entries])  # the same form again
    page.wait_for_selector("#notice")
    assert page.inner_text("#bill-paid") == "¥30.00"  # repaid once
    assert len(credit.repayments(p, user)) == 1
    assert page.inner_text("#full-amount") == "¥270.00"
    _repay(page, "full")
    assert page.inner_text("#bill-status") == "PAID"
    assert credit.summary(p, user)["owed_now_fen"] == 0

    at(date(2026, 4, 5))
    credit.pay_merchant_with_huabei(p, user, shop, 600_00, "buy-2", PAY_PASSWORD)
    at(date(2026, 5, 1))
    dayend.start_of_day(p, date(2026, 5, 1))
    at(date(2026, 5, 2))
    wallet_login(page, site, phone, "/wallet/huabei")  # yesterday's session has ended
    page.click("#bill-link")
    page.select_option("#periods", "3")
    page.click("#preview")
    page.wait_for_selector("#split-terms")
    assert page.inner_text("#split-principal") == "¥600.00"
    assert page.inner_text("#split-fee") == "¥15.00"  # 2.5 % for 3 periods, before confirming
    assert credit.list_plans(p, user) == []  # seeing the fee books nothing
    page.click("#confirm")
    page.wait_for_selector("#plan-schedule")
    assert page.inner_text("#plan-fee").startswith("¥15.00")
    periods = page.locator("#plan-schedule .period")
    assert periods.count() == 3
    first = periods.nth(0).inner_text()
    assert "2026-06-01" in first and "2026-06-10" in first and "¥200.00" in first
    assert "¥5.00" in first and "To be billed" in first
    assert page.inner_text("#paid-principal") == "¥0.00"
    page.click("#back")
    assert page.locator("#plans .plan-link").count() == 1

    credit.pay_merchant_with_huabei(p, user, shop, 120_00, "buy-3", PAY_PASSWORD)
    page.reload()  # a purchase not yet billed: split it alone (交易分期)
    assert "¥120.00" in page.inner_text("#unbilled-purchases")
    page.click("#unbilled-purchases .purchase-preview")  # 3 periods, the first choice
    page.wait_for_selector("#split-terms")
    assert page.inner_text("#split-fee") == "¥2.76"  # 2.3 % for 3 periods
    page.click("#confirm")
    page.wait_for_selector("#plan-schedule")
    assert "Purchase" in page.inner_text("#plan") and page.locator(".period").count() == 3
    assert "2026-06-01" in page.locator(".period").nth(0).inner_text()
    assert credit.summary(p, user)["unbilled_fen"] == 0
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_the_score_page_and_claiming_a_coupon(sqlite_platform, trained_registry, site, page):
    from qianbao.demo import SAMPLE_ANSWERS
    from qianbao.scoring import service as scoring

    p = sqlite_platform
    use_trained_card(p, trained_registry)
    at(date(2026, 3, 2))
    user = new_user(p, balance_fen=100_00)
    names = set(scoring.active_card(p).inputs)
    answers = {k: v for k, v in SAMPLE_ANSWERS.items() if k in names}
    scoring.score_user(p, user, answers, reason="APPLICATION")
    at(date(2026, 4, 2))
    scoring.rescore(p, user)
    now_ms = int(datetime(2026, 4, 2, 9, tzinfo=TZ).timestamp() * 1000)
    marketing.create_campaign(
        p,
        name="页面领券 Page coupons",
        funder="PLATFORM",
        face_fen=5_00,
        min_spend_fen=50_00,
        valid_from_ms=now_ms,
        valid_until_ms=now_ms + 7 * 86_400_000,
        per_user_limit=1,
        budget_fen=100_00,
    )
    wallet_login(page, site, members.get_user(p, user)["phone"], "/wallet/score")
    page.wait_for_selector("#dimensions")
    assert page.locator("#dimensions .dimension").count() == 5
    for dim in ("identity", "ability", "history", "connections", "behaviour"):
        assert page.locator(f"#dim-{dim}").count() == 1
    assert "信用" in page.inner_text("#dim-history")
    assert page.inner_text("#score") == str(scoring.latest_score(p, user))
    assert page.locator("#score-chart svg").count() == 1
    assert page.locator("#score-history tr").count() == 3  # header + two scores
    for reason in page.locator("#reasons .reason").all():
        text = reason.inner_text()
        assert "是拉低分数的主要因素之一" in text and "holding the score back" in text

    page.goto(f"{site}/wallet/coupons")
    assert "None" in page.inner_text("#coupons-available")
    page.click("#campaigns .claim")
    page.wait_for_selector("#notice")
    assert "¥5.00" in page.inner_text("#coupons-available")
    page.click("#campaigns .claim")  # one per user: the page says why not
    assert "COUPON_LIMIT_REACHED" in page.inner_text("#error-code")
    assert len(marketing.list_coupons(p, user)) == 1
