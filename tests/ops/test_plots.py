"""The back office's plots: each is valid SVG with its data drawn (one bar per point), drawn from
what the platform holds, served to an operator and cached briefly; nothing named outside."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from qianbao.backoffice import charts
from qianbao.channels import reconcile
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.web import plots
from tests.factories import PAY_PASSWORD, new_user
from tests.ops.helpers import signed_in
from tests.trades.helpers import new_merchant

SVG = "{http://www.w3.org/2000/svg}svg"


def _drawn(svg: str) -> int:
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == SVG
    assert "http" not in re.sub(r'xmlns(:\w+)?="[^"]+"', "", svg)  # nothing named outside
    return len(re.findall(r'<g id="bar-\d+"', svg))


def test_each_plot_is_svg_with_one_bar_per_point():
    points = [("a", 3.0), ("b", 0.0), ("c", 7.5)]
    for draw in (
        plots.payments_per_minute,
        plots.latency,
        plots.merchant_sales,
        plots.reconciliation_differences,
        plots.score_distribution,
    ):
        assert _drawn(draw(points)) == 3
        empty = draw([])
        assert _drawn(empty) == 0 and "<!-- no data yet -->" in empty
        assert "<text" not in empty  # text is drawn as paths: the browser needs no font
    huabei = plots.huabei_by_month([("2026-10", 1.5, 300.0), ("2026-11", 2.5, 450.0)])
    assert _drawn(huabei) == 2 and '<g id="line"' in huabei
    assert plots.score_distribution(points) == plots.score_distribution(points)  # no date inside


def test_the_series_come_from_the_platform(platform):
    p = platform
    m = new_merchant(p)
    for i in range(3):
        u = new_user(p, balance_fen=20_00)
        payments.pay_merchant(p, u, m, 5_00, f"plot-{i}", PAY_PASSWORD)
    p.relay.drain()
    per_minute = charts.payments_per_minute(p)
    assert len(per_minute) == 60 and sum(n for _, n in per_minute) == 3
    sales = charts.merchant_sales(p, m)
    assert len(sales) == 30 and sales[-1] == (clock.today().strftime("%m-%d"), 15.0)
    yesterday = clock.today() - timedelta(days=1)
    reconcile.reconcile(p, "SIMBANK", yesterday)
    differences = dict(charts.reconciliation_differences(p))
    assert differences[yesterday.strftime("%m-%d")] == 0 and len(differences) == 30
    assert charts.huabei_by_month(p) == [] and charts.score_distribution(p) == []


def test_an_operator_sees_the_plots_and_they_are_cached(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    u = new_user(p, balance_fen=20_00)
    payments.pay_merchant(p, u, m, 7_00, "plot-page", PAY_PASSWORD)
    p.relay.drain()
    c, _ = signed_in(p, "auditor")
    page = c.get("/ops/plots")
    names = re.findall(r'src="/ops/plots/([\w-]+)\.svg"', page.text)
    assert names == ["payments", "latency", "huabei", "reconciliation", "scores"]
    for name in names:
        answer = c.get(f"/ops/plots/{name}.svg")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
        _drawn(answer.text)
    first = c.get("/ops/plots/payments.svg").text
    assert _drawn(first) == 60
    payments.pay_merchant(p, u, m, 1_00, "plot-page-2", PAY_PASSWORD)
    assert c.get("/ops/plots/payments.svg").text == first  # cached for a while
    sales = c.get("/ops/plots/merchant-sales.svg", params={"merchant": m})
    assert _drawn(sales.text) == 30
    assert c.get("/ops/plots/nope.svg").status_code == 404
    assert c.get("/ops/plots/merchant-sales.svg").status_code == 404
    assert "overview-plots" in c.get("/ops").text
    from qianbao.backoffice import audit

    actions = {r["action"] for r in audit.read(p)}
    assert "/ops/plots" in actions and not any(a.endswith(".svg") for a in actions)
    assert json.dumps(names)  # the page named them
