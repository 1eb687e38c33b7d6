"""The simulator (reproducible, every typology present, no id or shape that gives a label away),
the flattened trees (they score exactly as LightGBM does), and ``qianbao risk evaluate`` through
the live decision function writing the report's keys."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from qianbao.risk import model as risk_model
from qianbao.risk import simulate
from qianbao.risk.cli import app
from qianbao.risk.features import NAMES


def test_the_simulator_is_reproducible_and_ids_do_not_give_labels_away():
    _, first = simulate.generate(5, 3, users=300, frauds_per_day=2)
    _, again = simulate.generate(5, 3, users=300, frauds_per_day=2)
    assert first == again
    labels = Counter(e.label for e in first)
    assert labels[""] > 10 * sum(n for k, n in labels.items() if k)
    for label in {e.label for e in first}:
        ids = {e.movement.party_id for e in first if e.label == label}
        assert {len(i) for i in ids} == {18} and all(i.isdigit() for i in ids)
    assert any(e.warmup for e in first) and not any(e.label for e in first if e.warmup)


def test_flattened_trees_score_as_lightgbm_does():
    import lightgbm
    import numpy as np

    rng = random.Random(3)
    x = np.array([[rng.random() for _ in NAMES] for _ in range(400)])
    y = (x[:, 0] + x[:, 3] * x[:, 5] > 0.8).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1}
    booster = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=15)
    model = risk_model.from_lightgbm(booster.dump_model(), "t")
    expected = booster.predict(x[:50])
    got = [model.probability(list(row)) for row in x[:50]]
    assert max(abs(a - b) for a, b in zip(expected, got, strict=True)) < 1e-9


def test_evaluate_writes_recall_and_precision_per_typology(tmp_path: Path):
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app, ["evaluate", "--seed", "9", "--days", "2", "--users", "300", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert 0 <= report["false_positive_rate"] <= 1
    for name in simulate.TYPOLOGIES:
        assert {"recall", "precision"} <= set(report["typologies"][name])
    assert report["model_version"] == risk_model.load().version
