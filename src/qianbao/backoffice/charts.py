"""The series the back office plots (``web/plots.py`` draws them): each read from the package
that owns the data, summed over the units, every gap filled so a quiet minute or day shows as 0.

* payments per minute: the units' ``payments`` rows (merchant payments), the last hour;
* their latency: the request-latency histogram (``platform/metrics.py``) of this process, over the
  payment routes, per bucket;
* a merchant's net sales per business day (its activity index in its home unit);
* Huabei overdue rate and provisions per month (each unit's last day-end report of the month);
* reconciliation differences per day (stored reconciliations);
* the credit score distribution (each user's latest score)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from qianbao.channels import queries as channel_queries
from qianbao.credit import queries as credit_queries
from qianbao.payments import queries as payment_queries
from qianbao.platform.clock import TZ, clock
from qianbao.platform.metrics import REQUEST_LATENCY
from qianbao.platform.runtime import Platform
from qianbao.scoring import queries as score_queries

Point = tuple[str, float]
PAYMENT_ROUTES = ("/payments", "/gateway.do", "/pay")  # route templates that take a payment
SCORE_BAND = 50
EPOCH = date(1970, 1, 1)


def payments_per_minute(p: Platform, minutes: int = 60) -> list[Point]:
    now_minute = clock.now_ms() // payment_queries.MINUTE_MS
    first = now_minute - minutes + 1
    counts: dict[int, int] = {}
    for db in p.units:
        with db.read() as tx:
            since_ms = first * payment_queries.MINUTE_MS
            for minute, n in payment_queries.payments_per_minute(tx, since_ms).items():
                counts[minute] = counts.get(minute, 0) + n
    return [(_hhmm(m), counts.get(m, 0)) for m in range(first, now_minute + 1)]


def _hhmm(minute: int) -> str:
    at = datetime.fromtimestamp(minute * 60, TZ)
    return at.strftime("%H:%M")


def payment_latency() -> list[Point]:
    """Requests to the payment routes per latency bucket (``≤ 5 ms`` …), this process."""
    cumulative: dict[float, float] = {}
    for metric in REQUEST_LATENCY.collect():
        for s in metric.samples:
            route = s.labels.get("route", "")
            if not s.name.endswith("_bucket") or not any(r in route for r in PAYMENT_ROUTES):
                continue
            bound = float(s.labels["le"])
            cumulative[bound] = cumulative.get(bound, 0.0) + s.value
    points, below = [], 0.0
    for bound in sorted(cumulative):
        label = "more" if bound == float("inf") else f"≤{bound * 1000:g}ms"
        points.append((label, cumulative[bound] - below))
        below = cumulative[bound]
    return points if below else []


def merchant_sales(p: Platform, merchant_id: str, days: int = 30) -> list[Point]:
    """Net sales (yuan) per business day, the last ``days`` days up to today."""
    today = (clock.today() - EPOCH).days
    first = today - days + 1
    since_ms = first * payment_queries.DAY_MS - payment_queries.SHANGHAI_OFFSET_MS
    with p.db_for(merchant_id).read() as tx:
        fen = payment_queries.merchant_sales_per_day(tx, merchant_id, since_ms)
    return [
        ((EPOCH + timedelta(days=d)).strftime("%m-%d"), fen.get(d, 0) / 100)
        for d in range(first, today + 1)
    ]


def huabei_by_month(p: Platform, months: int = 12) -> list[tuple[str, float, float]]:
    """Per month: overdue rate (% of receivables) and provisions (yuan), over all units."""
    since = (clock.today().replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    totals: dict[str, list[int]] = {}  # month -> [receivables, overdue, provision]
    for db in p.units:
        with db.read() as tx:
            rows = credit_queries.day_end_reports(tx, since.isoformat())
        last_of_month = {str(r["day"])[:7]: r for r in rows}  # rows are in day order
        for month, r in last_of_month.items():
            t = totals.setdefault(month, [0, 0, 0])
            t[0] += int(r["receivables_fen"])
            t[1] += int(r["overdue_fen"])
            t[2] += int(r["provision_fen"])
    return [
        (month, 100 * t[1] / t[0] if t[0] else 0.0, t[2] / 100)
        for month, t in sorted(totals.items())
    ]


def reconciliation_differences(p: Platform, days: int = 30) -> list[Point]:
    first = clock.today() - timedelta(days=days)
    with p.global_db.read() as tx:
        found = channel_queries.differences_per_day(tx, first.isoformat())
    span = [first + timedelta(days=i) for i in range(days)]
    return [(d.strftime("%m-%d"), found.get(d.isoformat(), 0)) for d in span]


def score_distribution(p: Platform) -> list[Point]:
    counts: dict[int, int] = {}
    for db in p.units:
        with db.read() as tx:
            for low, n in score_queries.latest_score_bands(tx, SCORE_BAND).items():
                counts[low] = counts.get(low, 0) + n
    return [(str(low), counts[low]) for low in sorted(counts)]
