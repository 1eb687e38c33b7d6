"""``qianbao yuebao`` on a real data directory."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qianbao.cli import app
from tests.test_cli import _env

runner = CliRunner()


def test_yuebao_commands(tmp_path) -> None:
    env = _env(tmp_path)
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    user = json.loads((tmp_path / "demo.json").read_text())["users"][0]["user_id"]
    sub = ["yuebao", "subscribe", user, "100.00", "--request-id", "cli-1"]
    first = runner.invoke(app, sub, env=env)
    assert first.exit_code == 0, first.output
    assert "10000 (100.00 CNY)" in first.output and "ACCEPTED" in first.output
    assert runner.invoke(app, sub, env=env).exit_code == 0  # a replay
    held = runner.invoke(app, ["yuebao", "holdings", user], env=env)
    assert held.exit_code == 0 and "pending_fen" in held.output and "100.00 CNY" in held.output
    bad = runner.invoke(app, ["yuebao", "subscribe", user, "1.001", "--request-id", "x"], env=env)
    assert bad.exit_code == 2
    short = runner.invoke(app, ["yuebao", "redeem", user, "5.00", "--request-id", "r"], env=env)
    assert short.exit_code == 1 and "YUEBAO_SHARES_NOT_ENOUGH" in short.output
    day = runner.invoke(app, ["yuebao", "run-day"], env=env)  # yesterday: nothing to confirm
    assert day.exit_code == 0, day.output
    recon = runner.invoke(app, ["yuebao", "reconcile"], env=env)
    assert recon.exit_code == 0 and "BALANCED" in recon.output
    assert runner.invoke(app, ["yuebao", "yield"], env=env).exit_code == 0
