"""The scorecard artifact: attributes → bins → integer points, readable and summable by hand.

A card is plain data. Scoring an applicant needs nothing but this module: find the bin of
each attribute, add the points. The JSON form has sorted keys and floats rounded to
``FLOAT_DIGITS`` so the same training run writes the same bytes on every machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qianbao.platform.errors import InvalidArgument
from qianbao.scoring.errors import Code

SCHEMA_VERSION = 1
FLOAT_DIGITS = 6
NUMERIC = "numeric"
CATEGORICAL = "categorical"


class ScoringInputError(InvalidArgument):
    """An applicant's answers do not fit the card (stable ``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=Code(code))  # an unlisted code fails here


def rfloat(value: float) -> float:
    """The one rounding of floats that go into an artifact (not money: there is none here)."""
    if not math.isfinite(value):
        raise ValueError(f"non-finite value {value!r} cannot go into a scorecard")
    rounded = round(float(value), FLOAT_DIGITS)
    return 0.0 if rounded == 0 else rounded


@dataclass(frozen=True)
class Scaling:
    """score = offset + factor * ln(odds good:bad), factor = pdo / ln 2.

    ``base_score`` points at ``base_odds`` (good:bad), every ``pdo`` points doubles the odds.
    """

    base_score: int = 600
    base_odds: float = 1.0
    pdo: int = 50
    min_score: int = 350
    max_score: int = 950

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def clamp(self, points: int) -> int:
        return max(self.min_score, min(self.max_score, points))

    def bad_probability(self, score: float) -> float:
        """The probability of bad that a score stands for on this scale."""
        log_odds_good = (score - self.offset) / self.factor
        return 1.0 / (1.0 + math.exp(log_odds_good))


@dataclass(frozen=True)
class Bin:
    """One row of the card. Numeric: ``lower <= x < upper`` (None = open). Categorical: a set."""

    label: str
    points: int
    woe: float
    count: int
    bad_rate: float
    lower: float | None = None
    upper: float | None = None
    categories: tuple[str, ...] = ()
    missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = list(self.categories)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Bin:
        return Bin(
            label=str(data["label"]),
            points=int(data["points"]),
            woe=float(data["woe"]),
            count=int(data["count"]),
            bad_rate=float(data["bad_rate"]),
            lower=None if data.get("lower") is None else float(data["lower"]),
            upper=None if data.get("upper") is None else float(data["upper"]),
            categories=tuple(str(c) for c in data.get("categories", [])),
            missing=bool(data.get("missing", False)),
        )


@dataclass(frozen=True)
class Attribute:
    """An attribute of the card: its bins, and the points for a missing or unseen value."""

    name: str
    kind: str
    dimension: str
    iv: float
    coefficient: float
    bins: tuple[Bin, ...]
    missing_points: int
    trend: str = ""
    # A derived attribute: the first input, then multiplied (+1) or divided (-1) by the next
    # ones, e.g. (("credit_amount", 1), ("duration_in_month", -1)). Empty for a plain answer.
    formula: tuple[tuple[str, int], ...] = ()

    @property
    def inputs(self) -> list[str]:
        """The answers this attribute is read from: itself, or the inputs of its formula."""
        return [name for name, _ in self.formula] if self.formula else [self.name]

    @property
    def formula_text(self) -> str:
        return formula_text(self.formula)

    def value_in(self, applicant: Mapping[str, Any], *, strict: bool = False) -> Any:
        """The attribute's value for an applicant: the answer, or the formula applied to the
        answers (None when an input is missing or a divisor is 0)."""
        if not self.formula:
            return applicant.get(self.name)
        return derive_value(self.formula, applicant, strict=strict)

    @property
    def max_points(self) -> int:
        return max(b.points for b in self.bins)

    @property
    def min_points(self) -> int:
        return min([b.points for b in self.bins] + [self.missing_points])

    def categories(self) -> list[str]:
        return [c for b in self.bins for c in b.categories]

    def find_bin(self, value: Any) -> Bin | None:
        """The bin a value falls in; None when the value is missing or was never seen."""
        if _is_missing(value):
            return next((b for b in self.bins if b.missing), None)
        if self.kind == NUMERIC:
            number = _as_number(self.name, value)
            for b in self.bins:
                if b.missing:
                    continue
                if (b.lower is None or number >= b.lower) and (b.upper is None or number < b.upper):
                    return b
            return None
        text = str(value)
        return next((b for b in self.bins if text in b.categories), None)

    def points_for(self, value: Any, *, strict: bool = False) -> int:
        found = self.find_bin(value)
        if found is not None:
            return found.points
        if strict:
            if _is_missing(value):
                raise ScoringInputError(
                    "APPLICANT_ATTRIBUTE_MISSING", f"attribute {self.name!r} needs an answer"
                )
            allowed = ", ".join(repr(c) for c in self.categories()[:12])
            raise ScoringInputError(
                "APPLICANT_VALUE_UNKNOWN",
                f"{value!r} is not a known value of {self.name!r} (known: {allowed})",
            )
        return self.missing_points

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "dimension": self.dimension,
            "iv": self.iv,
            "coefficient": self.coefficient,
            "bins": [b.to_dict() for b in self.bins],
            "missing_points": self.missing_points,
            "trend": self.trend,
        }
        if self.formula:
            data["formula"] = [[name, power] for name, power in self.formula]
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Attribute:
        return Attribute(
            name=str(data["name"]),
            kind=str(data["kind"]),
            dimension=str(data["dimension"]),
            iv=float(data["iv"]),
            coefficient=float(data["coefficient"]),
            bins=tuple(Bin.from_dict(b) for b in data["bins"]),
            missing_points=int(data["missing_points"]),
            trend=str(data.get("trend", "")),
            formula=tuple((str(n), int(p)) for n, p in data.get("formula", [])),
        )


@dataclass(frozen=True)
class Scorecard:
    """A trained, versioned card. ``version`` is derived from the content (see ``content_id``)."""

    version: str
    attributes: tuple[Attribute, ...]
    scaling: Scaling
    intercept: float
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    def attribute(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def attribute_names(self) -> list[str]:
        return [a.name for a in self.attributes]

    @property
    def min_points(self) -> int:
        return sum(a.min_points for a in self.attributes)

    @property
    def max_points(self) -> int:
        return sum(a.max_points for a in self.attributes)

    @property
    def inputs(self) -> list[str]:
        """What an applicant answers: the plain attributes and the inputs of derived ones."""
        names: list[str] = []
        for a in self.attributes:
            names += [n for n in a.inputs if n not in names]
        return names

    def points(self, applicant: dict[str, Any], *, strict: bool = False) -> dict[str, int]:
        """Points of every attribute for one applicant (no clamping, no behaviour)."""
        return {
            a.name: a.points_for(a.value_in(applicant, strict=strict), strict=strict)
            for a in self.attributes
        }

    def to_dict(self, *, with_version: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": self.schema,
            "attributes": [a.to_dict() for a in self.attributes],
            "scaling": asdict(self.scaling),
            "intercept": self.intercept,
            "data": self.data,
            "params": self.params,
            "metrics": self.metrics,
            "dropped": self.dropped,
        }
        if with_version:
            data["version"] = self.version
        return data

    def to_json(self) -> str:
        return dumps(self.to_dict())

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Scorecard:
        schema = int(data.get("schema", 0))
        if schema != SCHEMA_VERSION:
            raise ScoringInputError(
                "SCORECARD_SCHEMA_UNSUPPORTED", f"scorecard schema {schema} is not supported"
            )
        return Scorecard(
            version=str(data["version"]),
            attributes=tuple(Attribute.from_dict(a) for a in data["attributes"]),
            scaling=Scaling(**data["scaling"]),
            intercept=float(data["intercept"]),
            data=dict(data.get("data", {})),
            params=dict(data.get("params", {})),
            metrics=dict(data.get("metrics", {})),
            dropped=dict(data.get("dropped", {})),
            schema=schema,
        )

    @staticmethod
    def from_json(text: str) -> Scorecard:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScoringInputError("SCORECARD_INVALID", f"not a scorecard JSON: {exc}") from exc
        return Scorecard.from_dict(data)

    def with_metrics(self, metrics: dict[str, Any]) -> Scorecard:
        """The same card with metrics attached; the version covers metrics too."""
        draft = Scorecard(
            version="",
            attributes=self.attributes,
            scaling=self.scaling,
            intercept=self.intercept,
            data=self.data,
            params=self.params,
            metrics=metrics,
            dropped=self.dropped,
        )
        return with_content_version(draft)


def dumps(data: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, no NaN, a final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def content_id(card: Scorecard) -> str:
    digest = hashlib.sha256(dumps(card.to_dict(with_version=False)).encode("utf-8")).hexdigest()
    return "sc-" + digest[:12]


def with_content_version(card: Scorecard) -> Scorecard:
    """Name a card by its content: the same training gives the same version, anywhere."""
    return Scorecard(
        version=content_id(card),
        attributes=card.attributes,
        scaling=card.scaling,
        intercept=card.intercept,
        data=card.data,
        params=card.params,
        metrics=card.metrics,
        dropped=card.dropped,
        schema=card.schema,
    )


def formula_text(formula: tuple[tuple[str, int], ...] | list[tuple[str, int]]) -> str:
    """``credit_amount ÷ duration_in_month``: how a person computes a derived attribute."""
    parts = []
    for i, (name, power) in enumerate(formula):
        parts.append(name if i == 0 else f"{'×' if power > 0 else '÷'} {name}")
    return " ".join(parts)


def check_formula(name: str, formula: tuple[tuple[str, int], ...]) -> None:
    if not formula or formula[0][1] != 1 or any(p not in (1, -1) for _, p in formula):
        raise ValueError(f"formula of {name!r} must start with an input and use × or ÷ only")


def derive_value(
    formula: tuple[tuple[str, int], ...], applicant: Mapping[str, Any], *, strict: bool = False
) -> float | None:
    """One applicant's derived value, computed exactly like :func:`derive_column`."""
    value = 0.0
    for i, (name, power) in enumerate(formula):
        raw = applicant.get(name)
        if _is_missing(raw):
            if strict:
                raise ScoringInputError(
                    "APPLICANT_ATTRIBUTE_MISSING", f"attribute {name!r} needs an answer"
                )
            return None
        number = _as_number(name, raw)
        if i == 0:
            value = number
        elif power > 0:
            value = value * number
        elif number == 0:
            if strict:
                raise ScoringInputError("APPLICANT_VALUE_INVALID", f"{name!r} must not be 0")
            return None
        else:
            value = value / number
    return value if math.isfinite(value) else None


def derive_column(formula: tuple[tuple[str, int], ...], frame: pd.DataFrame) -> pd.Series:
    """The derived attribute for every row (NaN when an input is missing, not a number or a
    divisor is 0). Same float operations, in the same order, as :func:`derive_value`."""
    if any(name not in frame.columns for name, _ in formula):
        return pd.Series(np.nan, index=frame.index, dtype=float)
    values = np.zeros(len(frame), dtype=float)
    for i, (name, power) in enumerate(formula):
        number = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        if i == 0:
            values = number.copy()
        elif power > 0:
            values = values * number
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(number == 0, np.nan, values / np.where(number == 0, 1, number))
    values[~np.isfinite(values)] = np.nan
    return pd.Series(values, index=frame.index, dtype=float)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _as_number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ScoringInputError("APPLICANT_VALUE_INVALID", f"{name!r} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ScoringInputError(
            "APPLICANT_VALUE_INVALID", f"{name!r} must be a number, got {value!r}"
        ) from exc
    if not math.isfinite(number):
        raise ScoringInputError("APPLICANT_VALUE_INVALID", f"{name!r} must be finite")
    return number
