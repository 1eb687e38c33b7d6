"""Operators' case verdicts as training examples (ADR 0606).

A case closed ``CONFIRMED_FRAUD`` or ``FALSE_POSITIVE`` that points at a decision yields one
example: the features the decision stored (``inputs.features``, computed by the live path at
decision time, the same function the simulator's rows come from) with label 1 or 0. Everything
else is skipped and counted by reason: a case still open or without a verdict, a case with no
decision (a detector's finding is a pattern over several movements, not one movement's verdict),
a decision that cannot be found, or one stored for another feature set. Pure functions: the
service reads the rows (``store.labels``, ``service.get_decision``) and hands them here.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qianbao.risk.features import NAMES
from qianbao.risk.model import Model

FRAUD, LEGIT = "CONFIRMED_FRAUD", "FALSE_POSITIVE"
LABEL_VALUES = {FRAUD: 1, LEGIT: 0}
OPEN = "open"  # skip reasons, the keys of ``Dataset.skipped``
NO_DECISION = "no_decision"
DECISION_MISSING = "decision_missing"
OTHER_FEATURES = "other_features"


@dataclass(frozen=True, slots=True)
class Example:
    case_id: str
    decision_id: str
    features: tuple[float, ...]
    y: int  # 1 confirmed fraud, 0 a false positive


@dataclass(frozen=True, slots=True)
class Dataset:
    examples: tuple[Example, ...]
    skipped: dict[str, int]

    @property
    def counts(self) -> dict[str, int]:
        fraud = sum(e.y for e in self.examples)
        return {"examples": len(self.examples), FRAUD: fraud, LEGIT: len(self.examples) - fraud}


def features_of(decision: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The stored feature vector of a decision row; None when it is not one of ours."""
    inputs = decision.get("inputs")
    data = json.loads(inputs) if isinstance(inputs, str) else inputs
    values = data.get("features") if isinstance(data, dict) else None
    if not isinstance(values, list) or len(values) != len(NAMES):
        return None
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None


def assemble(
    cases: Iterable[Mapping[str, Any]], decisions: Mapping[str, Mapping[str, Any]]
) -> Dataset:
    """The examples of ``cases`` (rows of ``risk_cases``) given their decisions by id."""
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for case in cases:
        label = str(case.get("label") or "")
        if case.get("status") != "CLOSED" or label not in LABEL_VALUES:
            skipped[OPEN] += 1
            continue
        decision_id = str(case.get("decision_id") or "")
        if not decision_id:
            skipped[NO_DECISION] += 1
            continue
        decision = decisions.get(decision_id)
        if decision is None:
            skipped[DECISION_MISSING] += 1
            continue
        features = features_of(decision)
        if features is None:
            skipped[OTHER_FEATURES] += 1
            continue
        examples.append(Example(str(case["id"]), decision_id, features, LABEL_VALUES[label]))
    return Dataset(tuple(examples), dict(skipped))


def effect(before: Model, after: Model, examples: Sequence[Example]) -> dict[str, Any]:
    """What training on the labels changed: for the confirmed-fraud and the false-positive
    examples, the mean probability each model gives them and how many reach its operating
    point (what the rule ``model_operating_point`` turns into a challenge)."""
    out: dict[str, Any] = {}
    for name, y in ((FRAUD, 1), (LEGIT, 0)):
        rows = [list(e.features) for e in examples if e.y == y]
        out[name] = {"examples": len(rows)}
        for when, model in (("before", before), ("after", after)):
            ps = [model.probability(x) for x in rows]
            out[name] |= {
                f"mean_p_{when}": round(statistics.fmean(ps), 4) if ps else None,
                f"flagged_{when}": sum(1 for q in ps if q >= model.operating_point),
            }
    return out
