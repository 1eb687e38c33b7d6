"""The wallet's credit score page (信用分: the score, its five dimensions, the reasons that
lowered it in plain words and its history as a server-rendered chart) and the coupon page
(卡券: my coupons by state, claiming one from a running campaign). The login is the wallet's
``qb_user`` cookie (``web/wallet.py``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.page_login import UserCookie
from qianbao.api.security import csrf_guard
from qianbao.marketing import service as marketing
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.scoring import service as scoring
from qianbao.scoring import wording
from qianbao.web.charts import line_chart_svg
from qianbao.web.templating import day
from qianbao.web.wallet_shell import render, wallet_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
SCORE_PAGE, COUPON_PAGE = "/wallet/score", "/wallet/coupons"
HISTORY_POINTS = 12
SCALE = (350, 950)  # the score's scale (scoring.card.Scaling clamps to it)


def score_history_svg(rows: list[Any]) -> str:
    """The scores of ``rows`` (newest first, as ``scoring.history`` returns them) as a chart."""
    oldest_first = list(reversed(rows))
    labels = [day(int(r["created_at_ms"])) for r in oldest_first]
    values = [int(r["score"]) for r in oldest_first]
    return line_chart_svg(labels, values, title="信用分 Score", y_range=SCALE)


@router.get(SCORE_PAGE, response_class=HTMLResponse)
def score_page(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, SCORE_PAGE)
    rows = scoring.history(p, user_id, HISTORY_POINTS)
    if not rows:
        return render(request, "wallet_score.html", score=None)
    latest = scoring.user_score(rows[0])
    result = json.loads(rows[0]["result"])
    ctx: dict[str, Any] = {
        "score": latest,
        "scored_on": day(int(latest["created_at_ms"])),
        "dimensions": wording.dimension_rows(latest["dimensions"]),
        "reasons": wording.plain_reasons(result["reasons"]),
        "chart": score_history_svg(rows),
        "history": [{"day": day(int(r["created_at_ms"])), "score": r["score"]} for r in rows],
    }
    return render(request, "wallet_score.html", **ctx)


def _coupon_state(c: Mapping[str, Any], now_ms: int) -> str:
    if c["status"] == marketing.USED:
        return "used"
    return "expired" if now_ms >= c["valid_until_ms"] else "available"


def _coupons_page(request: Request, p: Platform, user_id: str, **extra: Any) -> HTMLResponse:
    now = clock.now_ms()
    groups: dict[str, list[dict[str, Any]]] = {"available": [], "used": [], "expired": []}
    for c in marketing.list_coupons(p, user_id):
        groups[_coupon_state(c, now)].append(marketing.public_coupon(c))
    campaigns = [
        {**c, "valid_until": day(int(c["valid_until_ms"]))}
        for c in marketing.claimable_campaigns(p)
    ]
    status = int(extra.pop("status", 200))
    ctx = {"groups": groups, "campaigns": campaigns, "request_id": uuid.uuid4().hex, **extra}
    return render(request, "wallet_coupons.html", status, **ctx)


@router.get(COUPON_PAGE, response_class=HTMLResponse)
def coupons_page(
    request: Request, p: PlatformDep, claimed: str = "", qb_user: UserCookie = None
) -> Response:
    user_id = wallet_user(p, qb_user, COUPON_PAGE)
    return _coupons_page(request, p, user_id, notice="领取成功 Claimed" if claimed else "")


@router.post(COUPON_PAGE + "/claim", response_class=HTMLResponse)
def claim_coupon(
    request: Request,
    p: PlatformDep,
    campaign_id: Annotated[str, Form(max_length=40)],
    request_id: Annotated[str, Form(max_length=64)],
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, COUPON_PAGE)
    try:
        marketing.claim(p, campaign_id, user_id, request_id)
    except QianbaoError as exc:
        status = exc.http_status if 400 <= exc.http_status < 500 else 400
        return _coupons_page(
            request, p, user_id, code=str(exc.code), message=exc.message, status=status
        )
    return RedirectResponse(f"{COUPON_PAGE}?claimed=1", status_code=303)
