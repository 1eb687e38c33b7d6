"""PNG plots for the analyst: ROC, KS, calibration, score distribution (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from qianbao.scoring.evaluate import Evaluation  # noqa: E402

DPI = 110
# Fixed metadata so the same run writes the same bytes.
METADATA: dict[str, Any] = {"Software": None}


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, metadata=METADATA)
    plt.close(fig)
    return path


def roc_plot(ev: Evaluation, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    for r in range(ev.oof_scores.shape[0]):
        fpr, tpr, _ = roc_curve(ev.target, -ev.oof_scores[r].astype(float))
        ax.plot(fpr, tpr, color="tab:blue", alpha=0.35, lw=1)
    summary = ev.summary()
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    ax.set_title(f"ROC (out-of-fold, each repeat): AUC {summary['auc_mean']:.3f}")
    ax.set_xlabel("false positive rate (goods declined)")
    ax.set_ylabel("true positive rate (bads caught)")
    return _save(fig, path)


def ks_plot(ev: Evaluation, path: Path) -> Path:
    scores = ev.oof_scores[0].astype(float)
    grid = np.arange(350, 951)
    bads = np.array([(scores[ev.target == 1] <= g).mean() for g in grid])
    goods = np.array([(scores[ev.target == 0] <= g).mean() for g in grid])
    gap = bads - goods
    at = int(np.argmax(gap))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, bads, label="bads (cumulative)", color="tab:red")
    ax.plot(grid, goods, label="goods (cumulative)", color="tab:green")
    ax.vlines(grid[at], goods[at], bads[at], color="black", ls="--")
    ax.set_title(f"KS {gap[at]:.3f} at score {grid[at]} (repeat 1, out-of-fold)")
    ax.set_xlabel("score")
    ax.set_ylabel("share at or below score")
    ax.legend(loc="lower right")
    return _save(fig, path)


def calibration_plot(ev: Evaluation, path: Path) -> Path:
    rows = ev.summary()["calibration"]
    observed = [r["observed_bad_rate"] for r in rows]
    predicted = [r.get("predicted_bad_rate", np.nan) for r in rows]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(predicted, observed, marker="o", color="tab:blue", label="score groups (deciles)")
    top = max(max(observed), np.nanmax(predicted)) * 1.05
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="perfect calibration")
    ax.set_xlabel("bad rate implied by the score scale")
    ax.set_ylabel("observed bad rate (out-of-fold)")
    ax.set_title("Calibration")
    ax.legend(loc="upper left")
    return _save(fig, path)


def distribution_plot(ev: Evaluation, path: Path) -> Path:
    dist = ev.summary()["score_distribution"]
    starts = np.array(dist["band_start"])
    width = (starts[1] - starts[0]) if len(starts) > 1 else 50
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(starts, dist["goods"], width=width * 0.9, align="edge", color="tab:green", alpha=0.6,
           label="goods")  # fmt: skip
    ax.bar(starts, dist["bads"], width=width * 0.9, align="edge", color="tab:red", alpha=0.6,
           label="bads")  # fmt: skip
    ax.set_xlabel("score (out-of-fold, all repeats)")
    ax.set_ylabel("applicants")
    ax.set_title("Score distribution of goods and bads")
    ax.legend()
    return _save(fig, path)


def write_plots(ev: Evaluation, directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "roc": str(roc_plot(ev, directory / "roc.png")),
        "ks": str(ks_plot(ev, directory / "ks.png")),
        "calibration": str(calibration_plot(ev, directory / "calibration.png")),
        "distribution": str(distribution_plot(ev, directory / "score_distribution.png")),
    }
