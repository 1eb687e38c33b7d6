"""Training and evaluation on the simulator, through the live decision function.

``replay`` runs generated movements one by one through ``decide.decide`` — the very function
the engine calls inside a unit — over one unit's state: a movement that passes (or one that was
challenged and whose sender answers the step-up: a legitimate owner, or a scam's victim, who is
deceived, not robbed) joins the counters and teaches the profile its device, IP, payee and
place; a fraudulent one that was stopped does not. ``train`` fits the trees (or a logistic
regression) on one generated period (``simulated``: replayed twice, ADR 0620); ``evaluate``
scores another period from another seed and reports recall and precision per typology and the
false-positive rate.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qianbao.risk import labels, payees, simulate
from qianbao.risk.counters import Counters, Event
from qianbao.risk.decide import CHALLENGE, PASS, Lists, Profile, State, decide, remember
from qianbao.risk.features import NAMES
from qianbao.risk.labels import Dataset, Example
from qianbao.risk.model import NO_MODEL, Model, from_lightgbm
from qianbao.risk.rules import RuleSet, parse_location


@dataclass(frozen=True, slots=True)
class Scored:
    label: str
    outcome: str
    p: float
    features: tuple[float, ...]
    reasons: tuple[str, ...]
    held: bool = False  # a training row kept out of the fit: it sets the operating point


def replay(
    rs: RuleSet,
    model: Model,
    world: simulate.World,
    events: list[simulate.SimEvent],
    *,
    commit_all: bool = False,
    units: int = 1,
) -> list[Scored]:
    """``units``: the parties spread over that many units by their id's route bucket, each
    movement decided in its payer's unit from what that unit holds (its users' counters and
    profiles, the other units' payees' views), as live; 1 puts everybody in one unit, which
    sees every payer of a payee. Between units the payees' transfers and views travel as the
    engine sends them (``risk/payees.py``), each message arriving ``RELAY_DELAY_MS`` late."""
    net = _Units(rs, units)
    for user_id, kind, value, first_ms in world.history:  # known before the simulation
        state = net.states[net.unit_of(user_id)]
        remember(state.profiles.setdefault(user_id, Profile()), kind, value, first_ms)
    lists = Lists(categories=dict(world.categories))
    out: list[Scored] = []
    for i, e in enumerate(events):
        m = replace(e.movement, movement_id=str(i))
        unit = net.unit_of(m.party_id)
        net.deliver(e.at_ms)
        state = net.states[unit]
        d = decide(rs, model, state, None, lists, m, e.context, e.at_ms)
        if not e.warmup:
            out.append(
                Scored(e.label, d.outcome, d.model_p, d.features, tuple(r.rule for r in d.reasons))
            )
        answered = d.outcome == CHALLENGE and (not e.label or e.label in simulate.DECEIVED)
        if commit_all or d.outcome == PASS or answered:
            state.counters.add(d.event)
            _learn(state, m.party_id, e)
            net.committed(unit, d.event)
        net.publish(unit, e.at_ms)
    return out


class _Units:
    """The replay's units and the messages between them (``risk/payees.py``), each delivered
    ``RELAY_DELAY_MS`` after it was sent."""

    def __init__(self, rs: RuleSet, units: int) -> None:
        self.states = [State(Counters(rs.horizon_ms)) for _ in range(units)]
        self.outbound = [payees.Outbound() for _ in range(units)]
        self.queue: list[tuple[int, int, int, str, Any]] = []  # (due ms, seq, unit, topic, body)
        self.sent = 0

    def unit_of(self, party_id: str) -> int:
        return int(party_id[-2:]) % len(self.states)

    def committed(self, unit: int, e: Event) -> None:
        if e.kind != "TRANSFER" or len(self.states) == 1:
            return
        home = self.unit_of(e.payee)
        if home == unit:
            self.outbound[unit].add((e.payee,))
            return
        first_ms = self.states[unit].first_paid(e.user, e.payee)
        item = payees.inbound_item(e, e.at_ms if first_ms is None else first_ms)
        self._send(e.at_ms, home, payees.INBOUND, item)

    def _send(self, now_ms: int, unit: int, topic: str, body: Any) -> None:
        self.sent += 1
        heapq.heappush(self.queue, (now_ms + payees.RELAY_DELAY_MS, self.sent, unit, topic, body))

    def deliver(self, now_ms: int) -> None:
        queue = self.queue
        while queue and queue[0][0] <= now_ms:
            due_ms, _, unit, topic, body = heapq.heappop(queue)
            state = self.states[unit]
            if topic == payees.INBOUND:
                e, first_ms = payees.inbound_event(body)
                state.profiles.setdefault(e.user, Profile()).payees.setdefault(e.payee, first_ms)
                state.counters.add(e)
                self.outbound[unit].add((e.payee,))
                self.publish(unit, due_ms)
            else:
                for item in body:
                    payees.keep(state, item, due_ms)

    def publish(self, unit: int, now_ms: int) -> None:
        out = self.outbound[unit]
        if not out.due(now_ms):
            return
        state = self.states[unit]
        chosen = out.peek()
        out.sent(chosen, now_ms)
        for payload in payees.messages_of(state, chosen, now_ms):
            for other in range(len(self.states)):
                if other != unit:
                    self._send(now_ms, other, payees.VIEWS, payload["views"])


def _learn(state: State, user_id: str, e: simulate.SimEvent) -> None:
    profile = state.profiles.setdefault(user_id, Profile())
    if e.context.device_id:
        profile.devices.add(e.context.device_id)
    if e.context.ip:
        profile.ips.add(e.context.ip)
    if e.movement.kind != "WITHDRAW":
        profile.payees.setdefault(e.movement.payee_id, e.at_ms)
    place = parse_location(e.context.location)
    if place is not None:
        profile.last_place = (place[0], place[1], e.at_ms)


TRAIN_FPR = 0.004  # the operating point: this share of legitimate training movements above it
HOLDOUT = 0.2  # the last fifth of the training period sets the operating point, unfitted
# the layouts the model learns from: every party in one unit (a payee's other payers all in
# view) and spread over four (a quarter of them), so that it holds on either (ADR 0620)
TRAIN_UNITS = (1, 4)
LABEL_WEIGHT = 5.0  # one operator-labelled example counts as this many simulated ones


def train(
    rs: RuleSet,
    seed: int,
    days: int,
    *,
    users: int = 2000,
    version: str = "",
    kind: str = "gbdt",
    labelled: Sequence[Example] = (),
    label_weight: float = LABEL_WEIGHT,
    units: Sequence[int] = TRAIN_UNITS,
) -> Model:
    """Gradient-boosted trees (LightGBM, or ``kind="logistic"``) on one simulated period (its
    parties in each layout of ``units``), and the operators' ``labelled`` examples each
    weighing ``label_weight`` simulated ones."""
    rows = simulated(rs, seed, days, users=users, units=units)
    return fit(
        rows, seed, days, version=version, kind=kind, labelled=labelled, label_weight=label_weight
    )


def simulated(
    rs: RuleSet,
    seed: int,
    days: int,
    *,
    users: int = 2000,
    kind: str = "gbdt",
    units: Sequence[int] = TRAIN_UNITS,
) -> list[Scored]:
    """One simulated period's rows as the live path would see them, once per layout of
    ``units`` (the parties spread over that many units): replayed with every movement
    committed, a draft model fitted on that, and replayed again deciding with the draft, so
    that what it stops stays out of the counters as it would live (a thief's withdrawal after
    his transfers were refused looks different from one after they went). The last ``HOLDOUT``
    of each layout's rows, in time, is marked ``held``."""
    world, events = simulate.generate(seed, days, users=users)
    rows: list[Scored] = []
    for n in units:
        first = replay(rs, NO_MODEL, world, events, commit_all=True, units=n)
        draft = fit(first, seed, days, kind=kind, version="draft")
        again = replay(rs, draft, world, events, units=n)
        cut = len(again) - int(len(again) * HOLDOUT)
        rows += again[:cut] + [replace(s, held=True) for s in again[cut:]]
    return rows


def fit(
    rows: list[Scored],
    seed: int,
    days: int,
    *,
    version: str = "",
    kind: str = "gbdt",
    labelled: Sequence[Example] = (),
    label_weight: float = LABEL_WEIGHT,
) -> Model:
    """Fit on the simulated ``rows`` not marked ``held``, plus ``labelled``. The operating point
    is the probability that ``TRAIN_FPR`` of the legitimate held rows reach (of all rows when
    none is held): rows the trees were fitted on score lower than new ones, so a threshold set
    on them lets more false alarms through on a new month (labels are too few to set it)."""
    import numpy as np

    fitted = [s for s in rows if not s.held]
    held = [s for s in rows if s.held]
    x = np.array([s.features for s in fitted] + [e.features for e in labelled])
    y = np.array([1 if s.label else 0 for s in fitted] + [e.y for e in labelled])
    w = np.array(typology_weights(fitted) + [label_weight] * len(labelled))
    name = version or f"{kind}-s{seed}-d{days}" + (f"-l{len(labelled)}" if labelled else "")
    model = _fit_trees(x, y, w, name, seed) if kind == "gbdt" else _fit_logistic(x, y, w, name)
    legit = sorted(model.probability(list(s.features)) for s in held or rows if not s.label)
    point = legit[min(len(legit) - 1, int(len(legit) * (1 - TRAIN_FPR)))] if legit else 0.5
    model = replace(model, operating_point=round(min(max(point, 0.01), 0.99), 6))
    if version:
        return model
    digest = hashlib.sha256(json.dumps(model.to_json(), sort_keys=True).encode()).hexdigest()
    return replace(model, version=f"{name}-{digest[:8]}")  # a new model, a new version


def typology_weights(rows: Sequence[Scored]) -> list[float]:
    """One weight per row: 1 for a legitimate movement; a fraudulent one so that each typology
    weighs the same in all (the positives' count split evenly), a rare one (a takeover's few
    transfers) as much as a common one (a fake-trade ring's bursts)."""
    counts = Counter(s.label for s in rows if s.label)
    share = sum(counts.values()) / len(counts) if counts else 0.0
    return [share / counts[s.label] if s.label else 1.0 for s in rows]


def train_with_labels(
    rs: RuleSet,
    seed: int,
    days: int,
    dataset: Dataset,
    *,
    users: int = 2000,
    kind: str = "gbdt",
    label_weight: float = LABEL_WEIGHT,
    units: Sequence[int] = TRAIN_UNITS,
) -> tuple[Model, dict[str, Any]]:
    """The model on the simulator plus ``dataset``'s examples, and the training report: how many
    examples were used or skipped, and their scores under the model fitted on the same simulated
    rows without them (``before``) and with them (``after``)."""
    rows = simulated(rs, seed, days, users=users, units=units)
    before = fit(rows, seed, days, kind=kind)
    after = fit(rows, seed, days, kind=kind, labelled=dataset.examples, label_weight=label_weight)
    report = {
        "model_version": after.version,
        "without_labels_version": before.version,
        "seed": seed,
        "days": days,
        "users": users,
        "units": list(units),
        "simulated_rows": len(rows),
        "label_weight": label_weight,
        "labelled": dataset.counts,
        "skipped": dataset.skipped,
        "operating_point": {"before": before.operating_point, "after": after.operating_point},
        "effect": labels.effect(before, after, dataset.examples),
    }
    return after, report


def _fit_trees(x: Any, y: Any, w: Any, name: str, seed: int) -> Model:
    import lightgbm

    params = {
        "objective": "binary",
        "learning_rate": 0.2,
        "num_leaves": 15,
        "max_depth": 5,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": seed,
        "verbose": -1,
        "num_threads": 1,
    }
    booster = lightgbm.train(params, lightgbm.Dataset(x, y, weight=w), num_boost_round=60)
    return from_lightgbm(booster.dump_model(), name)


def _fit_logistic(x: Any, y: Any, w: Any, name: str) -> Model:
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    fit = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    fit.fit((x - mean) / std, y, sample_weight=w)
    coef = fit.coef_[0] / std
    intercept = float(fit.intercept_[0] - (fit.coef_[0] * mean / std).sum())
    return Model(name, NAMES, tuple(float(c) for c in coef), intercept)


def report(scored: list[Scored]) -> dict[str, Any]:
    """Recall and precision per typology (a CHALLENGE or a REJECT counts as caught), and the
    false-positive rate over legitimate movements."""
    flagged = [s for s in scored if s.outcome != PASS]
    legit = [s for s in scored if not s.label]
    false_pos = sum(1 for s in legit if s.outcome != PASS)
    typologies: dict[str, dict[str, float]] = {}
    for name in (*simulate.TYPOLOGIES, simulate.GROOMING):
        mine = [s for s in scored if s.label == name]
        caught = sum(1 for s in mine if s.outcome != PASS)
        # precision per typology: of what was flagged for it or falsely, the share that is it
        precision = caught / (caught + false_pos) if caught + false_pos else 0.0
        typologies[name] = {
            "movements": len(mine),
            "caught": caught,
            "recall": round(caught / len(mine), 4) if mine else 0.0,
            "precision": round(precision, 4),
        }
    return {
        "movements": len(scored),
        "legitimate": len(legit),
        "flagged": len(flagged),
        "false_positives": false_pos,
        "false_positive_rate": round(false_pos / len(legit), 5) if legit else 0.0,
        "overall_precision": round(sum(1 for s in flagged if s.label) / len(flagged), 4)
        if flagged
        else 0.0,
        "outcomes": dict(Counter(s.outcome for s in scored)),
        "typologies": typologies,
    }


def evaluate(
    rs: RuleSet, model: Model, seed: int, days: int, *, users: int = 2000, units: int = 1
) -> dict[str, Any]:
    world, events = simulate.generate(seed, days, users=users)
    started = time.perf_counter()
    scored = replay(rs, model, world, events, units=units)
    elapsed_s = time.perf_counter() - started
    out = report(scored)
    out |= {
        "seed": seed,
        "days": days,
        "users": users,
        "units": units,
        "rules_version": rs.version,
        "model_version": model.version,
        "decisions_per_s": round(len(scored) / elapsed_s) if elapsed_s else 0,
        "pr_curve": pr_curve(scored),
    }
    return out


def pr_curve(scored: list[Scored], points: int = 50) -> list[dict[str, float]]:
    """Precision and recall of the model alone at thresholds over its probability (the plot)."""
    rows = [(s.p, bool(s.label)) for s in scored]
    positives = sum(1 for _, y in rows if y)
    curve = []
    for k in range(points + 1):
        t = 1 - math.expm1(k / points * math.log(2)) if k < points else 0.0
        hits = [y for p, y in rows if p >= t]
        tp = sum(hits)
        curve.append(
            {
                "threshold": round(t, 4),
                "precision": round(tp / len(hits), 4) if hits else 1.0,
                "recall": round(tp / positives, 4) if positives else 0.0,
            }
        )
    return curve


def write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
