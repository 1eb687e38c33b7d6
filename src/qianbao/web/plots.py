"""Server-rendered plots as SVG (matplotlib, Agg): data in, SVG text out, nothing else.

Pure functions: no database, no clock, no request. Each draws with the object API (a
``Figure`` of its own, no pyplot state, so two requests can draw at once) and returns a
standalone SVG whose text is drawn as paths (no font is needed by the browser, none is fetched).
Every drawn bar is an SVG group with a stable id (``bar-0``, ``bar-1`` …, a line ``line``) so a
test can count what was drawn. Labels are English inside the plot (the bundled font has no
Chinese glyphs); the page around the plot carries the Chinese title."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

SIZE_IN = (6.4, 2.8)
SVG_METADATA: dict[str, Any] = {
    "Date": None,
    "Creator": None,
    "Type": None,
    "Format": None,
}  # same data, same bytes
BAR = "#1677ff"
SECOND = "#fa8c16"
Point = tuple[str, float]


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=SIZE_IN)
    ax = fig.add_subplot()
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _svg(fig: Figure) -> str:
    fig.tight_layout()
    out = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "qianbao"}):  # stable ids: same data, same bytes
        fig.savefig(out, format="svg", metadata=SVG_METADATA)
    text = out.getvalue()
    return text[text.index("<svg") :]  # no XML prologue or DOCTYPE (it names an outside DTD)


def _empty(ax: Any, points: Sequence[Any]) -> bool:
    if points:
        return False
    ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    return True


def _ticks(ax: Any, labels: Sequence[str], most: int = 12) -> None:
    """Label at most ``most`` of the x positions (a month of days stays readable)."""
    step = max(1, len(labels) // most)
    positions = list(range(0, len(labels), step))
    ax.set_xticks(positions, [labels[i] for i in positions], rotation=30, ha="right", fontsize=7)


def bars(points: Sequence[Point], title: str, y_label: str) -> str:
    """One bar per (label, value): payments per minute, sales per day, differences per day."""
    fig, ax = _figure()
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(y_label, fontsize=8)
    if not _empty(ax, points):
        drawn = ax.bar(range(len(points)), [v for _, v in points], color=BAR)
        for i, bar in enumerate(drawn):
            bar.set_gid(f"bar-{i}")
        _ticks(ax, [label for label, _ in points])
    return _svg(fig)


def payments_per_minute(points: Sequence[Point]) -> str:
    return bars(points, "Payments per minute", "payments")


def latency(buckets: Sequence[Point]) -> str:
    """Request counts by latency bucket (label: the bucket's upper bound)."""
    return bars(buckets, "Payment request latency", "requests")


def merchant_sales(points: Sequence[Point]) -> str:
    """Net sales (yuan) per business day of one merchant."""
    return bars(points, "Merchant sales per day", "yuan")


def reconciliation_differences(points: Sequence[Point]) -> str:
    return bars(points, "Reconciliation differences per day", "differences")


def score_distribution(points: Sequence[Point]) -> str:
    """Users by latest credit score band (label: the band's lower bound)."""
    return bars(points, "Credit score distribution", "users")


def huabei_by_month(months: Sequence[tuple[str, float, float]]) -> str:
    """Per month (label, overdue rate %, provisions in yuan): bars, and a line on a second axis."""
    fig, ax = _figure()
    ax.set_title("Huabei overdue rate and provisions by month", fontsize=10)
    ax.set_ylabel("overdue rate (%)", fontsize=8)
    if not _empty(ax, months):
        drawn = ax.bar(range(len(months)), [rate for _, rate, _ in months], color=BAR)
        for i, bar in enumerate(drawn):
            bar.set_gid(f"bar-{i}")
        right = ax.twinx()
        right.set_ylabel("provisions (yuan)", fontsize=8)
        (line,) = right.plot(range(len(months)), [fen for *_, fen in months], "o-", color=SECOND)
        line.set_gid("line")
        _ticks(ax, [label for label, *_ in months])
    return _svg(fig)
