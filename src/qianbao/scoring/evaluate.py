"""Evaluation by repeated stratified k-fold, with reference models on the very same folds.

Binning, selection and regression are refitted inside every training fold (nothing is
learnt from the test fold). The card is judged on its integer points, clamped to 350–950:
exactly what the platform would show. References: logistic regression on one-hot features
and LightGBM, both given the same attributes the card may use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from qianbao.scoring.batch import card_scores
from qianbao.scoring.card import Scaling, Scorecard, rfloat
from qianbao.scoring.data import Dataset, ScoringDataError, dataset_from_frame
from qianbao.scoring.train import TrainParams, fit_scorecard

MAX_FOLDS = 20
MAX_REPEATS = 20
REFERENCES = ("logistic_onehot", "lightgbm")


@dataclass
class Evaluation:
    folds: int
    repeats: int
    seed: int
    card_auc: list[float]
    card_ks: list[float]
    reference_auc: dict[str, list[float]]
    reference_ks: dict[str, list[float]]
    oof_scores: np.ndarray  # (repeats, n) card score of each row when it was in the test fold
    target: np.ndarray
    scaling: Scaling | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        auc = np.array(self.card_auc)
        ks = np.array(self.card_ks)
        refs = {}
        for name, values in self.reference_auc.items():
            r = np.array(values)
            k = np.array(self.reference_ks[name])
            refs[name] = {
                "auc_mean": rfloat(r.mean()),
                "auc_std": rfloat(r.std(ddof=1) if len(r) > 1 else 0.0),
                "ks_mean": rfloat(k.mean()),
                "ks_std": rfloat(k.std(ddof=1) if len(k) > 1 else 0.0),
                "card_auc_ratio": rfloat(auc.mean() / r.mean()),
            }
        scaling = self.scaling
        return {
            "folds": self.folds,
            "repeats": self.repeats,
            "seed": self.seed,
            "rows": int(len(self.target)),
            "bad_rate": rfloat(float(self.target.mean())),
            "auc_mean": rfloat(auc.mean()),
            "auc_std": rfloat(auc.std(ddof=1) if len(auc) > 1 else 0.0),
            "ks_mean": rfloat(ks.mean()),
            "ks_std": rfloat(ks.std(ddof=1) if len(ks) > 1 else 0.0),
            "gini_mean": rfloat(2 * auc.mean() - 1),
            "auc_per_fold": [rfloat(a) for a in auc],
            "references": refs,
            "calibration": calibration_table(self.oof_scores, self.target, scaling),
            "score_distribution": score_distribution(self.oof_scores, self.target),
            **self.extra,
        }


def ks_statistic(target: np.ndarray, scores: np.ndarray) -> float:
    """Largest gap between the cumulative score distributions of bads and goods."""
    fpr, tpr, _ = roc_curve(target, -np.asarray(scores, dtype=float))
    return float(np.max(tpr - fpr))


def auc(target: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC for scores where higher means better (less likely bad)."""
    return float(roc_auc_score(target, -np.asarray(scores, dtype=float)))


def evaluate(
    dataset: Dataset,
    params: TrainParams | None = None,
    *,
    folds: int = 5,
    repeats: int = 5,
    seed: int = 0,
    references: tuple[str, ...] = REFERENCES,
    on_fold: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Repeated stratified k-fold. ``on_fold(done, total)`` is for a progress bar."""
    if not 2 <= folds <= MAX_FOLDS or not 1 <= repeats <= MAX_REPEATS:
        raise ScoringDataError("PARAMS_INVALID", f"folds 2–{MAX_FOLDS}, repeats 1–{MAX_REPEATS}")
    params = replace(params or TrainParams(), seed=seed)
    x = dataset.frame
    y = dataset.target.to_numpy(dtype=int)
    if np.bincount(y).min() < folds:
        raise ScoringDataError("DATA_TOO_SMALL", f"fewer than {folds} rows of a class")
    allowed = [c for c in x.columns if c not in set(params.exclude)]
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    oof = np.zeros((repeats, len(y)), dtype=np.int64)
    card_auc: list[float] = []
    card_ks: list[float] = []
    ref_auc: dict[str, list[float]] = {r: [] for r in references}
    ref_ks: dict[str, list[float]] = {r: [] for r in references}
    total = folds * repeats
    for i, (train, test) in enumerate(splitter.split(x, y)):
        frame = x.iloc[train].copy()
        frame["__target__"] = y[train]
        card = fit_scorecard(dataset_from_frame(frame, "__target__", dataset.source), params)
        scores = card_scores(card, x.iloc[test])
        oof[i // folds, test] = scores
        card_auc.append(auc(y[test], scores))
        card_ks.append(ks_statistic(y[test], scores))
        for name in references:
            bad_probability = _reference(name, x[allowed], y, train, test, seed)
            ref_auc[name].append(auc(y[test], -bad_probability))
            ref_ks[name].append(ks_statistic(y[test], -bad_probability))
        if on_fold:
            on_fold(i + 1, total)
    return Evaluation(
        folds, repeats, seed, card_auc, card_ks, ref_auc, ref_ks, oof, y, scaling=params.scaling
    )


def _reference(
    name: str, x: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int
) -> np.ndarray:
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    categorical = [c for c in x.columns if c not in numeric]
    if name == "logistic_onehot":
        model = Pipeline(
            [
                (
                    "prepare",
                    ColumnTransformer(
                        [
                            (
                                "num",
                                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                                numeric,
                            ),
                            (
                                "cat",
                                make_pipeline(
                                    SimpleImputer(strategy="constant", fill_value="missing"),
                                    OneHotEncoder(handle_unknown="ignore"),
                                ),
                                categorical,
                            ),
                        ]
                    ),
                ),
                ("lr", LogisticRegression(C=1.0, max_iter=5000)),
            ]
        )
        model.fit(x.iloc[train], y[train])
        return np.asarray(model.predict_proba(x.iloc[test])[:, 1])
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        frame = x.copy()
        for c in categorical:
            frame[c] = pd.Categorical(frame[c].astype("string"))
        model_gbm = LGBMClassifier(
            n_estimators=300,
            learning_rate=0.03,
            num_leaves=8,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.7,
            reg_lambda=1.0,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_gbm.fit(frame.iloc[train], y[train])
            proba = np.asarray(model_gbm.predict_proba(frame.iloc[test]))
            return proba[:, 1]
    raise ScoringDataError("PARAMS_INVALID", f"unknown reference model {name!r}")


def calibration_table(
    oof: np.ndarray, target: np.ndarray, scaling: Any = None, groups: int = 10
) -> list[dict[str, Any]]:
    """Out-of-fold scores in (about) equal-count groups: predicted vs observed bad rate."""
    scores = oof.reshape(-1)
    y = np.tile(target, oof.shape[0])
    order = np.argsort(scores, kind="stable")
    rows = []
    for part in np.array_split(order, groups):
        if len(part) == 0:
            continue
        s = scores[part]
        row: dict[str, Any] = {
            "score_min": int(s.min()),
            "score_max": int(s.max()),
            "rows": int(len(part)),
            "observed_bad_rate": rfloat(float(y[part].mean())),
        }
        if scaling is not None:
            row["predicted_bad_rate"] = rfloat(
                float(np.mean([scaling.bad_probability(v) for v in s]))
            )
        rows.append(row)
    return rows


def score_distribution(oof: np.ndarray, target: np.ndarray, width: int = 50) -> dict[str, Any]:
    """Counts of goods and bads per ``width``-point score band (out-of-fold, all repeats)."""
    scores = oof.reshape(-1)
    y = np.tile(target, oof.shape[0])
    edges = list(range(350, 951, width))
    if edges[-1] != 950:
        edges.append(950)
    index = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, len(edges) - 2)
    goods = np.bincount(index[y == 0], minlength=len(edges) - 1)
    bads = np.bincount(index[y == 1], minlength=len(edges) - 1)
    return {
        "band_start": edges[:-1],
        "goods": [int(v) for v in goods],
        "bads": [int(v) for v in bads],
    }


def check_monotone(card: Scorecard) -> dict[str, bool]:
    """Does every numeric attribute's points follow its declared trend (peak/valley: unimodal)?"""
    result = {}
    for a in card.attributes:
        pts = [b.points for b in a.bins if not b.missing]
        if a.kind != "numeric" or len(pts) < 2:
            continue
        diffs = np.diff(pts)
        if a.trend == "ascending":  # bad rate rises: points fall
            ok = bool(np.all(diffs <= 0))
        elif a.trend == "descending":
            ok = bool(np.all(diffs >= 0))
        elif a.trend in ("valley", "peak"):
            signs = [d for d in np.sign(diffs) if d != 0]
            ok = sum(1 for p, q in zip(signs, signs[1:], strict=False) if p != q) <= 1
        else:
            ok = bool(np.all(diffs <= 0) or np.all(diffs >= 0))
        result[a.name] = ok
    return result
