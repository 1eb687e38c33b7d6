"""Operators' case labels become training examples (the decision's stored features, the verdict),
open cases and cases without a decision are skipped, and a model trained with them scores the
confirmed-fraud examples higher (and the false positives lower) than the one trained without."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.ids import new_id
from qianbao.risk import evaluate as ev
from qianbao.risk import labels, record
from qianbao.risk import model as risk_model
from qianbao.risk import rules as risk_rules
from qianbao.risk import service as risk
from qianbao.risk.cli import app
from qianbao.risk.errors import RiskRejected
from qianbao.risk.features import NAMES
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, new_user
from tests.risk.conftest import write_rules
from tests.trades.helpers import new_merchant

HOME = RequestContext(device_id="phone-1", ip="10.0.0.1", location="31.23,121.47")


def _features(decision: dict[str, object]) -> tuple[float, ...]:
    return tuple(record.inputs(decision)["features"])


def _label_some_cases(p) -> dict[str, str]:
    """A rejection closed as a false positive, a pass an operator found to be fraud, an open
    case, a detector's case and a case whose decision does not exist (both closed)."""
    m, u = new_merchant(p), new_user(p, balance_fen=10_000_00)
    with use(HOME):
        paid = payments.pay_merchant(p, u, m, 12_34, "l1", PAY_PASSWORD)
        payments.pay_merchant(p, u, m, 56_78, "l2", PAY_PASSWORD)
    passed = next(d for d in risk.decisions(p, movement_id=paid["id"]))
    risk.put_list_entry(p, "block", "device", "stolen-9", "reported", "op")
    with use(RequestContext(device_id="stolen-9", ip="10.9.9.9")), pytest.raises(RiskRejected):
        payments.pay_merchant(p, u, m, 10_00, "l3", PAY_PASSWORD)
    (rejected,) = [c for c in risk.cases(p) if c["source"] == "DECISION"]
    risk.close(p, str(rejected["id"]), "op", "false_positive")
    fraud = risk.open_case(p, u, "customer reported it", decision_id=str(passed["id"]))
    risk.close(p, str(fraud["id"]), "op", "CONFIRMED_FRAUD")
    risk.open_case(p, u, "still looking", decision_id=str(passed["id"]))
    detector = risk.open_case(p, u, "cycle: A -> B -> A", source="DETECTOR")
    risk.close(p, str(detector["id"]), "op", "CONFIRMED_FRAUD")
    lost = risk.open_case(p, u, "gone", decision_id=new_id(0))
    risk.close(p, str(lost["id"]), "op", "FALSE_POSITIVE")
    return {
        "fraud": str(fraud["id"]),
        "passed_decision": str(passed["id"]),
        "rejected": str(rejected["id"]),
    }


def test_labelled_cases_become_examples_with_their_decisions_features(rp):
    ids = _label_some_cases(rp)
    dataset = risk.label_dataset(rp)
    got = {e.case_id: e for e in dataset.examples}
    assert set(got) == {ids["fraud"], ids["rejected"]}
    fraud, false_pos = got[ids["fraud"]], got[ids["rejected"]]
    assert fraud.y == 1 and fraud.decision_id == ids["passed_decision"]
    assert fraud.features == _features(risk.get_decision(rp, ids["passed_decision"]))
    assert false_pos.y == 0 and false_pos.decision_id == ids["rejected"]
    assert false_pos.features == _features(risk.get_decision(rp, ids["rejected"]))
    assert len(fraud.features) == len(NAMES)
    assert dataset.skipped == {labels.NO_DECISION: 1, labels.DECISION_MISSING: 1}
    assert dataset.counts == {"examples": 2, labels.FRAUD: 1, labels.LEGIT: 1}
    assert risk.label_dataset(rp) == dataset  # reading changes nothing
    assert_ledger_clean(rp)


def test_assemble_skips_what_is_not_a_verdict_on_one_decision():
    good = {"inputs": json.dumps({"features": [0.5] * len(NAMES)})}
    decisions = {"d1": good, "d2": {"inputs": json.dumps({"features": [1.0, 2.0]})}}
    cases = [
        {"id": "c1", "status": "CLOSED", "label": "CONFIRMED_FRAUD", "decision_id": "d1"},
        {"id": "c2", "status": "ASSIGNED", "label": "CONFIRMED_FRAUD", "decision_id": "d1"},
        {"id": "c3", "status": "CLOSED", "label": None, "decision_id": "d1"},
        {"id": "c4", "status": "CLOSED", "label": "FALSE_POSITIVE", "decision_id": None},
        {"id": "c5", "status": "CLOSED", "label": "FALSE_POSITIVE", "decision_id": "d9"},
        {"id": "c6", "status": "CLOSED", "label": "FALSE_POSITIVE", "decision_id": "d2"},
        {"id": "c7", "status": "CLOSED", "label": "FALSE_POSITIVE", "decision_id": "d1"},
    ]
    dataset = labels.assemble(cases, decisions)
    assert [(e.case_id, e.y) for e in dataset.examples] == [("c1", 1), ("c7", 0)]
    assert dataset.examples[0].features == (0.5,) * len(NAMES)
    assert dataset.skipped == {
        labels.OPEN: 2,
        labels.NO_DECISION: 1,
        labels.DECISION_MISSING: 1,
        labels.OTHER_FEATURES: 1,
    }


def test_training_with_labels_moves_their_scores_the_right_way():
    rs = risk_rules.load(risk_rules.DEFAULT_PATH)
    rows = ev.simulated(rs, 3, 2, users=300)
    legit = [r for r in rows if not r.label]
    fraud = [r for r in rows if r.label]
    # fraud the simulator does not know (legitimate-looking movements operators confirmed) and
    # false positives (fraud-looking movements operators cleared)
    examples = tuple(
        labels.Example(f"f{i}", f"d{i}", r.features, 1) for i, r in enumerate(legit[::97][:10])
    ) + tuple(labels.Example(f"l{i}", f"e{i}", r.features, 0) for i, r in enumerate(fraud[:5]))
    before = ev.fit(rows, 3, 2)
    after = ev.fit(rows, 3, 2, labelled=examples)
    assert after.version != before.version and "-l15-" in after.version
    change = labels.effect(before, after, examples)
    confirmed, cleared = change[labels.FRAUD], change[labels.LEGIT]
    assert confirmed["examples"] == 10 and cleared["examples"] == 5
    assert confirmed["mean_p_after"] > confirmed["mean_p_before"] + 0.3
    assert cleared["mean_p_after"] < cleared["mean_p_before"] - 0.3
    assert ev.fit(rows, 3, 2, labelled=examples).version == after.version  # reproducible


def test_cli_train_with_labels_writes_the_model_and_the_report(tmp_path: Path, monkeypatch):
    data = tmp_path / "data"
    rules = write_rules(tmp_path / "rules.yaml")
    p = make_platform("sqlite", data, extra={"risk": {"rules_path": str(rules)}})
    try:
        _label_some_cases(p)
    finally:
        p.close()
    monkeypatch.setenv("QIANBAO_DATA_DIR", str(data))
    out = tmp_path / "model.json"
    args = ["train", "--seed", "3", "--days", "2", "--users", "300", "--model", str(out)]
    bad = CliRunner().invoke(app, [*args, "--with-labels", "--label-weight", "0"])
    assert bad.exit_code != 0 and not out.exists()
    result = CliRunner().invoke(app, [*args, "--with-labels", "--label-weight", "40"])
    assert result.exit_code == 0, result.output
    model = risk_model.load(out)
    report = json.loads((tmp_path / "model.training.json").read_text())
    assert report["model_version"] == model.version and "-l2-" in model.version
    assert report["labelled"] == {"examples": 2, labels.FRAUD: 1, labels.LEGIT: 1}
    assert report["skipped"] == {labels.NO_DECISION: 1, labels.DECISION_MISSING: 1}
    assert report["label_weight"] == 40
    assert set(report["effect"]) == {labels.FRAUD, labels.LEGIT}
    assert "2 labelled examples" in result.output
