"""The back office's coupon campaigns and Huabei portfolio pages.

Campaigns: the list with the budget used, create one, pause / resume / stop one. Creating and
changing a campaign is ``roles.WRITE`` (admin), as on the API (``api/marketing.py``): a campaign
commits the platform's (or a merchant's) money to subsidies. The Huabei portfolio (receivables,
overdue buckets M1/M2/M3/M3+, provisions) is the credit day-end's stored report
(``credit/dayend.py`` ``portfolio_report``), read-only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.checks import not_future
from qianbao.api.deps import PlatformDep
from qianbao.api.errors import DayInvalid
from qianbao.api.security import csrf_guard
from qianbao.credit import dayend
from qianbao.credit.config import config_for
from qianbao.marketing import service as marketing
from qianbao.marketing.errors import CampaignInvalid
from qianbao.members import roles
from qianbao.platform.clock import TZ
from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import yuan_to_fen
from qianbao.web.ops_actions import act, action_operator
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
CAMPAIGNS = "/ops/campaigns"
ID_MAX = 40
Text = Annotated[str, Form(max_length=80)]
# The day-end's buckets by their usual names in collections (M1 = 1-30 days past due ...).
BUCKET_LABELS = {
    "current": "正常 Current",
    "1-30": "M1 (1-30)",
    "31-60": "M2 (31-60)",
    "61-90": "M3 (61-90)",
    "90+": "M3+ (90+)",
}


def _used_pct(c: Mapping[str, Any]) -> str:
    budget = int(c["budget_fen"])
    return f"{Decimal(100 * int(c['issued_fen']) / budget).quantize(Decimal('0.1'))}%"


@router.get(CAMPAIGNS, response_class=HTMLResponse)
def campaigns(request: Request, p: PlatformDep, qb_operator: OperatorCookie = None) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    rows = [{**c, "used_pct": _used_pct(c)} for c in marketing.list_campaigns(p, 200)]
    context = {"campaigns": rows, "may_write": roles.WRITE in roles.permissions(op.role)}
    return render(request, op, "ops_campaigns.html", context)


def _ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CampaignInvalid("times are like 2026-08-01T00:00 (Asia/Shanghai)") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=TZ)).timestamp() * 1000)


def _int(text: str, what: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 6:
        raise CampaignInvalid(f"{what} must be a whole number")
    return int(text.strip())


@router.post(CAMPAIGNS, response_class=HTMLResponse)
def create(
    request: Request,
    p: PlatformDep,
    name: Text,
    face: Text,
    min_spend: Text,
    budget: Text,
    valid_from: Text,
    valid_until: Text,
    per_user_limit: Text = "1",
    funder: Text = marketing.PLATFORM,
    merchant_id: Text = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"name": name[:40]}
    op = action_operator(request, p, qb_operator, roles.WRITE, target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        row = marketing.create_campaign(
            p,
            name=name,
            funder=funder,
            merchant_id=merchant_id.strip() or None,
            face_fen=yuan_to_fen(face.strip()),
            min_spend_fen=yuan_to_fen(min_spend.strip()),
            valid_from_ms=_ms(valid_from),
            valid_until_ms=_ms(valid_until),
            per_user_limit=_int(per_user_limit, "the per-user limit"),
            budget_fen=yuan_to_fen(budget.strip()),
        )
        return {k: row[k] for k in ("id", "name", "status", "face_fen", "budget_fen")}

    return act(request, p, op, target, CAMPAIGNS, go)


@router.post(CAMPAIGNS + "/{campaign_id}/status", response_class=HTMLResponse)
def set_status(
    campaign_id: str,
    request: Request,
    p: PlatformDep,
    status: Annotated[str, Form(max_length=10)],
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"campaign_id": campaign_id[:ID_MAX], "status": status}
    op = action_operator(request, p, qb_operator, roles.WRITE, target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        row = marketing.set_campaign_status(p, campaign_id[:ID_MAX], status)
        return {k: row[k] for k in ("id", "name", "status", "issued_fen", "budget_fen")}

    return act(request, p, op, target, CAMPAIGNS, go)


# --- Huabei portfolio -----------------------------------------------------------------------------
def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return not_future(date.fromisoformat(text[:10]))
    except ValueError as exc:
        raise DayInvalid(f"{text[:10]!r} is not a date (YYYY-MM-DD)") from exc


@router.get("/ops/credit/portfolio", response_class=HTMLResponse)
def portfolio(
    request: Request, p: PlatformDep, day: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    try:
        report = dayend.portfolio_report(p, _day(day))
    except QianbaoError as exc:
        refused = {"r": None, "error": f"{exc.code}: {exc.message}", "day": day[:10]}
        return render(request, op, "ops_portfolio.html", refused, status_code=exc.http_status)
    rates = config_for(p).provision_rates
    buckets = [
        {"name": name, "label": BUCKET_LABELS.get(name, name), "receivables_fen": fen, "rate": r}
        for name, fen, r in zip(
            report["buckets"], report["bucket_receivables_fen"], rates, strict=True
        )
    ]
    context: dict[str, Any] = {"r": report, "error": "", "buckets": buckets, "day": day[:10]}
    return render(request, op, "ops_portfolio.html", context)
