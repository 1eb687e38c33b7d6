"""The analyst's page: one static HTML file (images embedded) with the card, plots and PSI."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from qianbao.scoring.bands import BANDS  # noqa: E402
from qianbao.scoring.behaviour import BEHAVIOUR_VERSION, RULES  # noqa: E402
from qianbao.scoring.card import Scorecard  # noqa: E402
from qianbao.scoring.dimensions import DIMENSION_LABELS, DIMENSIONS  # noqa: E402
from qianbao.scoring.psi import StabilityRow  # noqa: E402

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
td.n,th.n{text-align:right}
th{background:#f0f0f0} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.stable{color:#2a7} .watch{color:#b80} .shifted{color:#c22;font-weight:bold}
img{max-width:48%;margin:4px;border:1px solid #eee}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def scorecard_table(card: Scorecard) -> str:
    rows = [
        "<table><tr><th>dimension</th><th>attribute</th><th>bin</th><th class=n>points</th>"
        "<th class=n>WOE</th><th class=n>rows</th><th class=n>bad rate</th></tr>"
    ]
    order = sorted(card.attributes, key=lambda a: (DIMENSIONS.index(a.dimension), a.name))
    for a in order:
        first = True
        for b in a.bins:
            head = (
                f"<td rowspan={len(a.bins) + 1}>{_e(DIMENSION_LABELS[a.dimension])}</td>"
                f"<td rowspan={len(a.bins) + 1}><b>{_e(a.name)}</b>"
                f"{'<br>= ' + _e(a.formula_text) if a.formula else ''}<br>IV {a.iv:.3f}"
                f"{'<br>trend ' + _e(a.trend) if a.trend else ''}</td>"
                if first
                else ""
            )
            first = False
            rows.append(
                f"<tr>{head}<td>{_e(b.label)}</td><td class=n>{b.points}</td>"
                f"<td class=n>{b.woe:+.3f}</td><td class=n>{b.count}</td>"
                f"<td class=n>{b.bad_rate:.1%}</td></tr>"
            )
        rows.append(
            f"<tr><td><i>missing / unseen</i></td><td class=n>{a.missing_points}</td>"
            "<td></td><td></td><td></td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def psi_table(rows: list[StabilityRow]) -> str:
    out = ["<table><tr><th>what</th><th class=n>PSI</th><th>status</th><th>bins</th></tr>"]
    for r in rows:
        shares = ", ".join(
            f"{_e(label)}: {e:.0%}→{a:.0%}"
            for label, e, a in zip(r.labels, r.expected_share, r.actual_share, strict=True)
        )
        out.append(
            f"<tr><td>{_e(r.name)}</td><td class=n>{r.psi:.4f}</td>"
            f"<td class={r.status}>{r.status}</td><td style='font-size:11px'>{shares}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def psi_plot(rows: list[StabilityRow], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1))
    names = [r.name for r in rows][::-1]
    values = [r.psi for r in rows][::-1]
    colours = ["tab:green" if v < 0.1 else "tab:orange" if v < 0.25 else "tab:red" for v in values]
    ax.barh(names, values, color=colours)
    ax.axvline(0.1, color="grey", ls="--", lw=1)
    ax.axvline(0.25, color="grey", ls=":", lw=1)
    ax.set_xlabel("PSI (training population → recent applicants)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{_e(path.stem)}' src='data:image/png;base64,{data}'>"


def write_report(
    directory: Path,
    card: Scorecard,
    evaluation: dict[str, Any] | None = None,
    plots: dict[str, str] | None = None,
    stability: list[StabilityRow] | None = None,
    recent_source: str = "",
) -> Path:
    """Write ``index.html`` (and ``psi.png``) into ``directory``; returns the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    s = card.scaling
    parts = [
        "<!doctype html><meta charset=utf-8><title>Qianbao scorecard "
        f"{_e(card.version)}</title><style>{STYLE}</style>",
        f"<h1>Scorecard {_e(card.version)}</h1>",
        f"<p>Trained on <b>{_e(card.data.get('source'))}</b>: {card.data.get('rows')} rows, "
        f"bad rate {float(card.data.get('bad_rate', 0)):.1%}, data fingerprint "
        f"<code>{_e(card.data.get('fingerprint'))}</code>.</p>",
        f"<p>Scale: {s.base_score} points at odds {s.base_odds:g}:1 (good:bad), "
        f"{s.pdo} points to double the odds; score = sum of points, clamped to "
        f"{s.min_score}–{s.max_score}. Card range {card.min_points}–{card.max_points}.</p>",
    ]
    if evaluation:
        parts.append(_evaluation_html(evaluation))
    if plots:
        parts.append("<h2>Plots</h2>" + "".join(_img(Path(p)) for p in plots.values()))
    parts.append("<h2>Scorecard (add one row per attribute)</h2>" + scorecard_table(card))
    if card.dropped:
        parts.append(
            "<h3>Attributes not used</h3><ul>"
            + "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in card.dropped.items())
            + "</ul>"
        )
    parts.append(_behaviour_html())
    parts.append(_bands_html())
    if stability:
        plot = psi_plot(stability, directory / "psi.png")
        parts.append(
            f"<h2>Population stability ({_e(recent_source)})</h2>"
            "<p>Below 0.10 stable, 0.10–0.25 watch, above 0.25 shifted.</p>"
            + _img(plot)
            + psi_table(stability)
        )
    else:
        parts.append("<h2>Population stability</h2><p>No recent applicants were given.</p>")
    target = directory / "index.html"
    target.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return target


def _evaluation_html(ev: dict[str, Any]) -> str:
    rows = [
        f"<h2>Evaluation: {ev['folds']} folds × {ev['repeats']} repeats, seed {ev['seed']}</h2>",
        "<table><tr><th>model</th><th class=n>AUC mean ± std</th><th class=n>KS mean ± std</th>"
        "<th class=n>card AUC ÷ model AUC</th></tr>",
        f"<tr><td><b>points scorecard</b></td><td class=n>{ev['auc_mean']:.4f} ± "
        f"{ev['auc_std']:.4f}</td><td class=n>{ev['ks_mean']:.4f} ± {ev['ks_std']:.4f}</td>"
        "<td></td></tr>",
    ]
    for name, r in ev.get("references", {}).items():
        rows.append(
            f"<tr><td>{_e(name)}</td><td class=n>{r['auc_mean']:.4f} ± {r['auc_std']:.4f}</td>"
            f"<td class=n>{r['ks_mean']:.4f} ± {r['ks_std']:.4f}</td>"
            f"<td class=n>{r['card_auc_ratio']:.3f}</td></tr>"
        )
    rows.append(f"</table><p>Gini {ev['gini_mean']:.4f}.</p>")
    rows.append(
        "<h3>Calibration (out-of-fold deciles)</h3><table><tr><th>scores</th><th class=n>rows</th>"
        "<th class=n>implied bad rate</th><th class=n>observed bad rate</th></tr>"
    )
    for c in ev.get("calibration", []):
        rows.append(
            f"<tr><td>{c['score_min']}–{c['score_max']}</td><td class=n>{c['rows']}</td>"
            f"<td class=n>{c.get('predicted_bad_rate', float('nan')):.1%}</td>"
            f"<td class=n>{c['observed_bad_rate']:.1%}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _behaviour_html() -> str:
    out = [f"<h2>Platform behaviour adjustment ({BEHAVIOUR_VERSION})</h2><table>"]
    out.append("<tr><th>rule</th><th>dimension</th><th>from value → points</th></tr>")
    for _code, dimension, table, description in RULES:
        cells = ", ".join(f"≥{bound}: {points:+d}" for bound, points in table)
        out.append(f"<tr><td>{_e(description)}</td><td>{_e(dimension)}</td><td>{cells}</td></tr>")
    out.append("<tr><td>Huabei amount overdue now</td><td>history</td><td>&gt;0 fen: -60</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _bands_html() -> str:
    out = [
        "<h2>Score bands</h2><table><tr><th>band</th><th>scores</th><th>eligible</th>"
        "<th class=n>initial line (CNY)</th><th class=n>ceiling (CNY)</th>"
        "<th class=n>installment fee discount</th><th class=n>daily interest</th></tr>"
    ]
    for b in BANDS:
        out.append(
            f"<tr><td>{_e(b.name)} {_e(b.label)}</td><td>{b.min_score}–{b.max_score}</td>"
            f"<td>{'yes' if b.eligible else 'no'}</td>"
            f"<td class=n>{b.initial_line_fen // 100:,}</td>"
            f"<td class=n>{b.max_line_fen // 100:,}</td>"
            f"<td class=n>{b.installment_fee_discount}</td>"
            f"<td class=n>{b.daily_interest_rate}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)
