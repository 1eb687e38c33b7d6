"""Training: optimal WOE binning → selection by IV and stability → logistic regression → points.

Every step fits only on the rows it is given, so evaluation can call :func:`fit_scorecard`
on each training fold without leaking the test fold. Deterministic for a given seed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from optbinning import OptimalBinning
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from qianbao.scoring.card import (
    CATEGORICAL,
    NUMERIC,
    Attribute,
    Bin,
    Scaling,
    Scorecard,
    check_formula,
    derive_column,
    rfloat,
    with_content_version,
)
from qianbao.scoring.data import Dataset, ScoringDataError, is_numeric
from qianbao.scoring.dimensions import dimension_of

TRENDS = ("auto", "auto_asc_desc", "ascending", "descending", "peak", "valley", "convex", "concave")
MAX_CATEGORIES = 200


@dataclass(frozen=True)
class TrainParams:
    """Every knob of training; stored in the artifact. Defaults are the documented choices."""

    seed: int = 0
    min_bin_size: float = 0.05
    min_prebin_size: float = 0.05
    max_n_bins: int = 8
    # categorical levels rarer than this share are grouped before binning (optbinning
    # ``cat_cutoff``: they become one "others" group, shown with its categories on the card)
    cat_cutoff: float | None = None
    default_trend: str = "auto_asc_desc"
    trends: dict[str, str] = field(default_factory=dict)
    iv_min: float = 0.02
    stability_splits: int = 4
    stability_min: float = 0.0
    woe_smoothing: float = 20.0
    c: float = 0.3
    # weigh goods and bads equally in the regression (then put the intercept back on the
    # portfolio's bad rate, so the points keep their odds meaning)
    balance_classes: bool = True
    missing_min_count: int = 10
    exclude: tuple[str, ...] = ()
    # derived attributes: name -> formula over other columns (see ``card.derive_value``)
    derived: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    dimensions: dict[str, str] = field(default_factory=dict)
    scaling: Scaling = field(default_factory=Scaling)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exclude"] = sorted(self.exclude)
        for key in ("min_bin_size", "min_prebin_size", "iv_min", "stability_min", "c"):
            data[key] = rfloat(data[key])
        data["woe_smoothing"] = rfloat(self.woe_smoothing)
        if self.cat_cutoff is not None:
            data["cat_cutoff"] = rfloat(self.cat_cutoff)
        data["derived"] = {k: [list(t) for t in v] for k, v in sorted(self.derived.items())}
        return data

    def validate(self) -> None:
        if not 0 < self.min_bin_size < 0.5 or not 0 < self.min_prebin_size < 0.5:
            raise ScoringDataError("PARAMS_INVALID", "bin sizes must be fractions in (0, 0.5)")
        if self.c <= 0 or self.woe_smoothing < 0 or self.max_n_bins < 2:
            raise ScoringDataError("PARAMS_INVALID", "C > 0, smoothing >= 0, max bins >= 2")
        if self.cat_cutoff is not None and not 0 < self.cat_cutoff < 0.5:
            raise ScoringDataError("PARAMS_INVALID", "cat_cutoff must be a fraction in (0, 0.5)")
        for name, formula in self.derived.items():
            try:
                check_formula(name, formula)
            except ValueError as exc:
                raise ScoringDataError("PARAMS_INVALID", str(exc)) from exc
        for name, trend in [("default", self.default_trend), *self.trends.items()]:
            if trend not in TRENDS:
                raise ScoringDataError("PARAMS_INVALID", f"trend {trend!r} of {name} unknown")


def german_params(seed: int = 0) -> TrainParams:
    """The documented choices for German Credit: business trends, the five-dimension mapping,
    protected attributes left out (docs/scoring.md)."""
    from qianbao.scoring.dimensions import (
        GERMAN_CAT_CUTOFF,
        GERMAN_DERIVED,
        GERMAN_DIMENSIONS,
        GERMAN_EXCLUDED,
        GERMAN_TRENDS,
    )

    return TrainParams(
        seed=seed,
        trends=dict(GERMAN_TRENDS),
        dimensions=dict(GERMAN_DIMENSIONS),
        exclude=tuple(GERMAN_EXCLUDED),
        derived=dict(GERMAN_DERIVED),
        cat_cutoff=GERMAN_CAT_CUTOFF,
    )


@dataclass
class _Binned:
    """An attribute after binning on the training rows: its bins and each row's bin index."""

    name: str
    kind: str
    trend: str
    edges: list[float]  # numeric: interior split points, ascending
    groups: list[list[str]]  # categorical: categories of each bin
    index: np.ndarray  # bin of every training row; len(bins) is the missing bin
    iv: float = 0.0
    woe: np.ndarray = field(default_factory=lambda: np.zeros(0))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bads: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_regular(self) -> int:
        return len(self.edges) + 1 if self.kind == NUMERIC else len(self.groups)


def fit_scorecard(dataset: Dataset, params: TrainParams | None = None) -> Scorecard:
    """Train a card on every row of ``dataset`` (pass a training fold to evaluate)."""
    params = params or TrainParams()
    params.validate()
    x, y = dataset.frame, dataset.target.to_numpy(dtype=int)
    dropped: dict[str, str] = {c: "excluded by policy" for c in x.columns if c in params.exclude}
    x = _with_derived(x, params, dropped)
    columns = [c for c in x.columns if c not in set(params.exclude)]
    if not columns:
        raise ScoringDataError("NO_ATTRIBUTES", "every attribute was excluded")
    prior = float(y.mean())
    binned: list[_Binned] = []
    for name in columns:
        result = _bin_attribute(x[name], y, name, params)
        if isinstance(result, str):
            dropped[name] = result
            continue
        _weigh(result, y, prior, params.woe_smoothing)
        if result.iv < params.iv_min:
            dropped[name] = f"IV {result.iv:.4f} below {params.iv_min}"
            continue
        stability = _stability(result, y, prior, params)
        if stability < params.stability_min:
            dropped[name] = f"unstable: WOE rank correlation {stability:.2f} between halves"
            continue
        binned.append(result)
    if not binned:
        raise ScoringDataError("NO_USABLE_ATTRIBUTES", "no attribute passed the IV and stability")
    model, kept, more = _fit_regression(binned, y, params)
    dropped.update(more)
    card = _to_card(dataset, params, model, kept, dropped)
    return card


def _with_derived(x: pd.DataFrame, params: TrainParams, dropped: dict[str, str]) -> pd.DataFrame:
    """The training columns plus each derived attribute whose inputs are all there."""
    out = x
    for name, formula in sorted(params.derived.items()):
        absent = [c for c, _ in formula if c not in x.columns]
        if name in x.columns:
            raise ScoringDataError("PARAMS_INVALID", f"derived {name!r} is already a column")
        if absent:
            dropped[name] = "inputs not in the data: " + ", ".join(absent)
            continue
        if out is x:
            out = x.copy()
        out[name] = derive_column(formula, x)
    return out


def _bin_attribute(
    column: pd.Series, y: np.ndarray, name: str, params: TrainParams
) -> _Binned | str:
    numeric = is_numeric(column)
    values = column.to_numpy(dtype=float) if numeric else column.to_numpy(dtype=object)
    present = ~pd.isna(column).to_numpy()
    if present.sum() == 0:
        return "all values missing"
    if not numeric and column[present].nunique() > MAX_CATEGORIES:
        return f"more than {MAX_CATEGORIES} categories"
    trend = params.trends.get(name, params.default_trend) if numeric else ""
    optb = OptimalBinning(
        name=name,
        dtype="numerical" if numeric else "categorical",
        solver="cp",
        monotonic_trend=trend if numeric else None,
        min_bin_size=params.min_bin_size,
        min_prebin_size=params.min_prebin_size,
        max_n_bins=params.max_n_bins,
        cat_cutoff=None if numeric else params.cat_cutoff,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optb.fit(values[present] if numeric else values[present].astype(str), y[present])
    if numeric:
        edges = sorted(rfloat(s) for s in optb.splits)
        index = np.where(present, np.searchsorted(edges, np.nan_to_num(values), side="right"), 0)
        index[~present] = len(edges) + 1
        return _Binned(name, NUMERIC, trend, edges, [], index.astype(int))
    groups = [sorted(str(c) for c in group) for group in optb.splits]
    others = [str(c) for c in getattr(optb, "_cat_others", None) or []]
    if others and not any(set(others) <= set(g) for g in groups):
        groups.append(sorted(others))  # the rare levels grouped by ``cat_cutoff``
    lookup = {c: i for i, group in enumerate(groups) for c in group}
    missing_index = len(groups)
    index = np.array(
        [
            lookup.get(str(v), missing_index) if ok else missing_index
            for v, ok in zip(values, present, strict=True)
        ]
    )
    return _Binned(name, CATEGORICAL, "", [], groups, index.astype(int))


def _woe_table(
    index: np.ndarray, y: np.ndarray, k: int, prior: float, m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed WOE (log odds good:bad of a bin minus the portfolio's) of bins 0..k-1.

    The bin's bad rate is shrunk toward the prior with ``m`` pseudo-rows, which keeps thin
    bins from getting extreme points.
    """
    counts = np.bincount(index, minlength=k)[:k].astype(float)
    bads = np.bincount(index, weights=y, minlength=k)[:k]
    rate = (bads + m * prior) / np.maximum(counts + m, 1e-12)
    rate = np.where(counts + m > 0, rate, prior)
    rate = np.clip(rate, 1e-6, 1 - 1e-6)
    woe = np.log((1 - rate) / rate) - math.log((1 - prior) / prior)
    return woe, counts, bads


def _weigh(b: _Binned, y: np.ndarray, prior: float, m: float) -> None:
    k = b.n_regular + 1
    woe, counts, bads = _woe_table(b.index, y, k, prior, m)
    if b.kind == NUMERIC:
        raw, _, _ = _woe_table(b.index, y, k, prior, 0.0)
        n = b.n_regular
        woe[:n] = _keep_shape(woe[:n], raw[:n], counts[:n], b.trend)
    b.woe, b.counts, b.bads = woe, counts, bads
    b.iv = _iv(counts, bads)


def _keep_shape(woe: np.ndarray, raw: np.ndarray, counts: np.ndarray, trend: str) -> np.ndarray:
    """Smoothing must not undo the shape the binning was constrained to.

    Isotonic regression (weighted by rows) puts the smoothed WOE back in the raw WOE's
    order: monotone either way, or rising then falling around the raw extreme bin.
    """
    if len(woe) < 2:
        return woe
    weights = np.maximum(counts, 1.0)
    if trend in ("valley", "peak"):
        # a bad-rate valley is a WOE peak (and vice versa)
        top = int(np.argmax(raw)) if trend == "valley" else int(np.argmin(raw))
        rising = trend == "valley"
        left = _isotonic(woe[: top + 1], weights[: top + 1], increasing=rising)
        right = _isotonic(woe[top:], weights[top:], increasing=not rising)
        out = np.concatenate(
            [left[:-1], [max(left[-1], right[0]) if rising else min(left[-1], right[0])], right[1:]]
        )
        return out
    increasing = bool(raw[-1] >= raw[0])
    if trend == "ascending":
        increasing = False
    elif trend == "descending":
        increasing = True
    return _isotonic(woe, weights, increasing=increasing)


def _isotonic(values: np.ndarray, weights: np.ndarray, *, increasing: bool) -> np.ndarray:
    if len(values) < 2:
        return values.copy()
    model = IsotonicRegression(increasing=increasing)
    return np.asarray(model.fit_transform(np.arange(len(values)), values, sample_weight=weights))


def _iv(counts: np.ndarray, bads: np.ndarray) -> float:
    """Information value from raw counts (0.5 added to empty cells)."""
    goods = counts - bads
    g = (goods + 0.5) / (goods.sum() + 0.5 * len(goods))
    d = (bads + 0.5) / (bads.sum() + 0.5 * len(bads))
    keep = counts > 0
    return float(np.sum(((g - d) * np.log(g / d))[keep]))


def _stability(b: _Binned, y: np.ndarray, prior: float, params: TrainParams) -> float:
    """Does the WOE pattern replicate? Mean rank correlation of bin WOE between random halves."""
    occupied = np.flatnonzero(b.counts > 0)
    if len(occupied) < 2:
        return -1.0
    rng = np.random.default_rng(params.seed)
    k = b.n_regular + 1
    scores = []
    for _ in range(params.stability_splits):
        half = rng.random(len(y)) < 0.5
        woe_a, _, _ = _woe_table(b.index[half], y[half], k, prior, params.woe_smoothing)
        woe_b, _, _ = _woe_table(b.index[~half], y[~half], k, prior, params.woe_smoothing)
        scores.append(_rank_corr(woe_a[occupied], woe_b[occupied]))
    return float(np.mean(scores))


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if np.std(ra) == 0 or np.std(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _fit_regression(
    binned: list[_Binned], y: np.ndarray, params: TrainParams
) -> tuple[LogisticRegression, list[_Binned], dict[str, str]]:
    """Logistic regression (target bad) on WOE; drop attributes whose sign is wrong and refit.

    WOE grows with the good:bad odds, so every coefficient must be negative: a positive one
    would make a better answer cost points (collinearity), which no analyst could defend.
    """
    dropped: dict[str, str] = {}
    kept = list(binned)
    while True:
        matrix = np.column_stack([b.woe[b.index] for b in kept])
        model = LogisticRegression(
            C=params.c,
            max_iter=2000,
            random_state=params.seed,
            class_weight="balanced" if params.balance_classes else None,
        )
        model.fit(matrix, y)
        coefs = model.coef_[0]
        wrong = [i for i, c in enumerate(coefs) if c >= 0]
        if not wrong or len(kept) == 1:
            if params.balance_classes:
                model.intercept_ = np.array([_calibrated_intercept(matrix @ coefs, y)])
            return model, kept, dropped
        worst = max(wrong, key=lambda i: (coefs[i], kept[i].name))
        dropped[kept[worst].name] = f"coefficient {coefs[worst]:+.4f} has the wrong sign"
        kept.pop(worst)


def _calibrated_intercept(linear: np.ndarray, y: np.ndarray) -> float:
    """The intercept that makes the mean predicted bad rate the observed one (coefficients
    fixed): balanced class weights shift the intercept toward even odds; this undoes it."""
    b0 = math.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)) - float(np.mean(linear))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(linear + b0)))
        gradient = float(np.sum(p - y))
        curvature = float(np.sum(p * (1 - p)))
        if curvature <= 0:
            break
        step = gradient / curvature
        b0 -= step
        if abs(step) < 1e-12:
            break
    return b0


def _to_card(
    dataset: Dataset,
    params: TrainParams,
    model: LogisticRegression,
    kept: list[_Binned],
    dropped: dict[str, str],
) -> Scorecard:
    scaling = params.scaling
    factor, offset = scaling.factor, scaling.offset
    intercept = float(model.intercept_[0])
    share = (offset - factor * intercept) / len(kept)
    attributes = []
    for b, coef in zip(kept, model.coef_[0], strict=True):
        points = [int(round(-factor * coef * w + share)) for w in b.woe]
        bins = _rows(b, points, params)
        missing_index = b.n_regular
        if b.counts[missing_index] >= params.missing_min_count:
            missing_points = points[missing_index]
        else:
            missing_points = min(points[: b.n_regular])
        attributes.append(
            Attribute(
                name=b.name,
                kind=b.kind,
                dimension=dimension_of(b.name, params.dimensions),
                iv=rfloat(b.iv),
                coefficient=rfloat(float(coef)),
                bins=tuple(bins),
                missing_points=missing_points,
                trend=b.trend,
                formula=tuple(tuple(t) for t in params.derived.get(b.name, ())),  # type: ignore[misc]
            )
        )
    data = {
        "source": dataset.source,
        "fingerprint": dataset.fingerprint,
        "rows": dataset.n_rows,
        "bad_rate": rfloat(dataset.bad_rate),
        "columns": list(dataset.frame.columns),
    }
    draft = Scorecard(
        version="",
        attributes=tuple(attributes),
        scaling=scaling,
        intercept=rfloat(intercept),
        data=data,
        params=params.to_dict(),
        metrics={},
        dropped=dict(sorted(dropped.items())),
    )
    return with_content_version(draft)


def _rows(b: _Binned, points: list[int], params: TrainParams) -> list[Bin]:
    rows = []
    for i in range(b.n_regular):
        count = int(b.counts[i])
        bad_rate = rfloat(float(b.bads[i] / count)) if count else 0.0
        common: dict[str, Any] = {
            "points": points[i],
            "woe": rfloat(float(b.woe[i])),
            "count": count,
            "bad_rate": bad_rate,
        }
        if b.kind == NUMERIC:
            lower = b.edges[i - 1] if i > 0 else None
            upper = b.edges[i] if i < len(b.edges) else None
            rows.append(Bin(label=_interval(lower, upper), lower=lower, upper=upper, **common))
        else:
            group = tuple(b.groups[i])
            rows.append(Bin(label=" | ".join(group), categories=group, **common))
    m = b.n_regular
    if b.counts[m] >= params.missing_min_count:
        count = int(b.counts[m])
        rows.append(
            Bin(
                label="missing",
                points=points[m],
                woe=rfloat(float(b.woe[m])),
                count=count,
                bad_rate=rfloat(float(b.bads[m] / count)),
                missing=True,
            )
        )
    return rows


def _interval(lower: float | None, upper: float | None) -> str:
    if lower is None and upper is None:
        return "any"
    if lower is None:
        return f"< {upper:g}"
    if upper is None:
        return f">= {lower:g}"
    return f"[{lower:g}, {upper:g})"
