"""The back office's coupon campaigns (admin creates, pauses, stops; others cannot) and the
Huabei portfolio page reading the credit day-end's figures (TestClient)."""

from __future__ import annotations

from datetime import date, timedelta

from qianbao.credit import dayend
from qianbao.credit import service as credit
from qianbao.marketing import service as marketing
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, huabei_user, merchant
from tests.factories import PAY_PASSWORD, new_user
from tests.security.ops_helpers import OpsClient

FORM = {
    "name": "春节满减 Spring festival",
    "face": "5.00",
    "min_spend": "50.00",
    "budget": "20.00",
    "per_user_limit": "2",
}


def _window() -> dict[str, str]:
    start = clock.now().replace(microsecond=0, tzinfo=None)
    return {"valid_from": start.isoformat(), "valid_until": (start + timedelta(days=7)).isoformat()}


def test_an_admin_runs_a_campaign_and_others_cannot(sqlite_platform):
    p = sqlite_platform
    admin, finance = OpsClient(p, "admin"), OpsClient(p, "finance")
    assert finance.post("/ops/campaigns", **FORM, **_window()).status_code == 403
    assert 'id="campaign-form"' not in finance.get("/ops/campaigns").text
    bad = [
        {**FORM, "face": "five"},
        {**FORM, "min_spend": "4.00"},
        {**FORM, "per_user_limit": "-1"},
        {**FORM, "valid_from": "tomorrow"},
    ]
    for form in bad:
        r = admin.post("/ops/campaigns", **{**_window(), **form})
        assert r.status_code == 400 and 'id="error-code"' in r.text, (form, r.text)
    assert marketing.list_campaigns(p) == []
    made = admin.post("/ops/campaigns", **FORM, **_window())
    assert made.status_code == 200 and "ACTIVE" in made.text, made.text
    [c] = marketing.list_campaigns(p)
    marketing.issue(p, c["id"], new_user(p), "first")
    page = finance.get("/ops/campaigns")
    assert f'id="campaign-{c["id"]}"' in page.text and "25.0%" in page.text
    url = f"/ops/campaigns/{c['id']}/status"
    assert finance.post(url, status="STOPPED").status_code == 403
    assert admin.post(url, status="PAUSED").status_code == 200
    assert marketing.get_campaign(p, c["id"])["status"] == "PAUSED"
    refused = admin.post(url, status="PAUSED")
    assert refused.status_code == 409 and "INVALID_STATE_TRANSITION" in refused.text
    assert admin.post(url, status="LATER").status_code == 400
    assert admin.post("/ops/campaigns/nope/status", status="ACTIVE").status_code == 404
    assert admin.post(url, status="STOPPED").status_code == 200
    assert admin.post(url, status="ACTIVE").status_code == 409
    assert marketing.get_campaign(p, c["id"])["status"] == "STOPPED"


def test_the_portfolio_page_shows_the_day_ends_figures(sqlite_platform):
    p = sqlite_platform
    day = date(2026, 1, 5)
    try:
        at(day)
        user = huabei_user(p, line_fen=500_000)
        credit.pay_merchant_with_huabei(p, user, merchant(p), 123_45, "pf-1", PAY_PASSWORD)
        auditor = OpsClient(p, "auditor")
        assert 'id="no-dayend"' in auditor.get("/ops/credit/portfolio").text
        at(day, 23)
        dayend.end_of_day(p, day)
        report = dayend.portfolio_report(p)
        auditor = OpsClient(p, "auditor")  # a back-office session lasts 8 hours of the clock
        page = auditor.get("/ops/credit/portfolio").text
        assert report["receivables_fen"] == 123_45
        assert 'id="receivables">¥123.45<' in page and 'id="bucket-90+"' in page
        assert "M3+ (90+)" in page and 'id="report-day">2026-01-05<' in page
        assert auditor.get("/ops/credit/portfolio?day=2026-13-01").status_code == 400
        assert auditor.get("/ops/credit/portfolio?day=2999-01-01").status_code == 400
        before = auditor.get("/ops/credit/portfolio?day=2026-01-04").text
        assert 'id="no-dayend"' in before
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()
