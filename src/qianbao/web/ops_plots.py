"""The back office's plots: ``/ops/plots`` shows them all, ``/ops/plots/<name>.svg`` draws one
(series from ``backoffice/charts.py``, SVG from ``web/plots.py``), cached for a short while per
app so a page of six plots reloaded by several operators draws each once.

The merchant page can show the same sales plot:
``plots.merchant_sales(charts.merchant_sales(p, merchant_id))``."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.backoffice import charts
from qianbao.backoffice.errors import PlotNotFound
from qianbao.members import roles
from qianbao.platform.runtime import Platform
from qianbao.web import plots
from qianbao.web.ops_forms import refused
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False)
CACHE_S = 30.0
CACHE_MAX = 200
Drawer = Callable[[Platform, str], str]

PLOTS: dict[str, tuple[str, Drawer]] = {
    "payments": (
        "每分钟支付 Payments per minute",
        lambda p, _: plots.payments_per_minute(charts.payments_per_minute(p)),
    ),
    "latency": ("支付耗时 Payment latency", lambda p, _: plots.latency(charts.payment_latency())),
    "huabei": (
        "花呗逾期率与拨备 Huabei overdue and provisions",
        lambda p, _: plots.huabei_by_month(charts.huabei_by_month(p)),
    ),
    "reconciliation": (
        "对账差异 Reconciliation differences",
        lambda p, _: plots.reconciliation_differences(charts.reconciliation_differences(p)),
    ),
    "scores": (
        "信用分分布 Score distribution",
        lambda p, _: plots.score_distribution(charts.score_distribution(p)),
    ),
    "merchant-sales": (
        "商户日销售 Merchant sales",
        lambda p, m: plots.merchant_sales(charts.merchant_sales(p, m)),
    ),
}


def _cached(request: Request, key: tuple[str, str], draw: Callable[[], str]) -> str:
    cache: dict[tuple[str, str], tuple[float, str]] = getattr(request.app.state, "plot_cache", {})
    request.app.state.plot_cache = cache
    now = time.monotonic()
    hit = cache.get(key)
    if hit is None or now - hit[0] > CACHE_S:
        if len(cache) >= CACHE_MAX:
            cache.clear()
        hit = cache[key] = (now, draw())
    return hit[1]


@router.get("/ops/plots", response_class=HTMLResponse)
def plots_page(
    request: Request, p: PlatformDep, merchant: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    shown = [(name, title) for name, (title, _) in PLOTS.items() if name != "merchant-sales"]
    context = {"shown": shown, "merchant": merchant[:40]}
    return render(request, op, "ops_plots.html", context)


@router.get("/ops/plots/{name}.svg")
def plot(
    name: str,
    request: Request,
    p: PlatformDep,
    merchant: str = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    if name not in PLOTS or (name == "merchant-sales" and not merchant.strip()):
        return refused(request, op, PlotNotFound(f"no plot {name[:40]!r}"), "/ops/plots")
    draw = PLOTS[name][1]
    svg = _cached(request, (name, merchant[:40]), lambda: draw(p, merchant[:40]))
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=30"}
    )
