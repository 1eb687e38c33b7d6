"""Small charts rendered on the server as inline SVG (matplotlib, Agg): nothing is loaded from
outside the page, and the text stays text (``svg.fonttype = none``) so the browser draws it
with the page's font stack, Chinese included."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_LOCK = threading.Lock()  # pyplot keeps global state: one chart at a time
STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "qianbao",
    "font.size": 9,
    # named in the SVG for the browser, which falls back along the list (none need be here)
    "font.family": "sans-serif",
    "font.sans-serif": [
        "Noto Sans CJK SC",
        "WenQuanYi Micro Hei",
        "PingFang SC",
        "Microsoft YaHei",
        "DejaVu Sans",
    ],  # fmt: skip
}


def line_chart_svg(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    y_range: tuple[float, float] | None = None,
    size_in: tuple[float, float] = (6.0, 2.4),
) -> str:
    """A line chart of ``values`` over ``labels`` (oldest first) as an ``<svg>`` element."""
    if len(labels) != len(values):
        raise ValueError("one label per value")
    with _LOCK, plt.rc_context(STYLE), warnings.catch_warnings():  # type: ignore[arg-type]
        # matplotlib sizes the text with its own fonts (maybe without Chinese glyphs); the
        # browser draws it
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig, ax = plt.subplots(figsize=size_in)
        try:
            xs = list(range(len(values)))
            ax.plot(xs, list(values), marker="o", color="#1677ff", lw=1.5)
            for x, v in zip(xs, values, strict=True):
                ax.annotate(f"{v:g}", (x, v), textcoords="offset points", xytext=(0, 5),
                            ha="center")  # fmt: skip
            ax.set_xticks(xs, list(labels))
            if y_range is not None:
                ax.set_ylim(*y_range)
            if title:
                ax.set_title(title)
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            out = io.StringIO()
            fig.savefig(out, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    text = out.getvalue()
    start, end = text.index("<metadata>"), text.index("</metadata>") + len("</metadata>")
    return text[text.index("<svg") : start] + text[end:]  # no RDF block: namespaces only
