from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qianbao.scoring.cli import app
from qianbao.scoring.evaluate import evaluate
from qianbao.scoring.plots import write_plots

from .conftest import german_params
from .test_card import KNOWN

runner = CliRunner()


@pytest.fixture(scope="module")
def quick(german):
    return evaluate(german, german_params(), folds=3, repeats=1, seed=5)


def test_evaluation_is_leak_free_and_beats_chance(quick):
    s = quick.summary()
    assert 0.70 < s["auc_mean"] < 0.90
    assert 0.30 < s["ks_mean"] < 0.70
    assert s["gini_mean"] == pytest.approx(2 * s["auc_mean"] - 1, abs=1e-6)
    assert set(s["references"]) == {"logistic_onehot", "lightgbm"}
    for ref in s["references"].values():
        assert 0.65 < ref["auc_mean"] < 0.90
    assert len(s["calibration"]) == 10
    dist = s["score_distribution"]
    assert sum(dist["goods"]) == 700 and sum(dist["bads"]) == 300


def test_evaluation_is_deterministic(german, quick):
    again = evaluate(german, german_params(), folds=3, repeats=1, seed=5)
    assert json.dumps(again.summary(), sort_keys=True) == json.dumps(
        quick.summary(), sort_keys=True
    )


def test_plots_are_written(tmp_path, quick):
    paths = write_plots(quick, tmp_path)
    for path in paths.values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_evaluate_writes_json(tmp_path):
    out = tmp_path / "eval.json"
    args = ["evaluate", "--folds", "3", "--repeats", "1", "--seed", "1", "--json", str(out)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    for key in ("auc_mean", "auc_std", "ks_mean", "ks_std"):
        assert isinstance(data[key], float)
    assert data["references"]["lightgbm"]["auc_mean"] > 0.6
    assert all(data["monotone"].values())
    assert (tmp_path / "plots" / "roc.png").is_file()


def test_cli_train_show_score_report(tmp_path):
    reg = str(tmp_path / "reg")
    result = runner.invoke(app, ["train", "--registry", reg, "--repeats", "0"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["show", "--registry", reg])
    assert result.exit_code == 0 and "purpose" in result.output
    applicant = tmp_path / "applicant.json"
    applicant.write_text(json.dumps(KNOWN))
    behaviour = tmp_path / "behaviour.json"
    behaviour.write_text(json.dumps({"account_age_days": 400, "huabei_bills_paid_on_time": 8}))
    args = ["score", str(applicant), "--registry", reg, "--behaviour", str(behaviour)]
    result = runner.invoke(app, [*args, "--strict"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert 350 <= view["score"] <= 950
    assert view["band"]["name"] and isinstance(view["band"]["initial_line_fen"], int)
    assert sum(d["points"] for d in view["dimensions"]) == view["points_total"]
    recent = tmp_path / "recent.csv"
    from qianbao.scoring.data import load_german_credit

    load_german_credit().frame.head(300).to_csv(recent, index=False)
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--registry", reg, "--recent", str(recent),
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert "Population stability" in page and "checking_account" in page
    assert (out / "psi.png").is_file()


def test_cli_reports_bad_data_clearly(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, ["evaluate", "--data", str(empty), "--target", "bad"])
    assert result.exit_code == 2
    assert "DATA_EMPTY" in result.output
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "bad"])
    assert result.exit_code == 2 and "TARGET_MISSING" in result.output
    result = runner.invoke(app, ["show", "--registry", str(tmp_path / "none")])
    assert result.exit_code == 2 and "SCORECARD_NONE_ACTIVE" in result.output
