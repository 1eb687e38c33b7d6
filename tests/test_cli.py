"""The CLI on a real data directory: init, demo (twice), money commands, ledger check."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qianbao.cli import app

runner = CliRunner()


def _env(tmp_path):
    return {
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
        "COLUMNS": "200",
    }


def test_demo_loads_once_and_money_commands_work(tmp_path):
    env = _env(tmp_path)
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    first = runner.invoke(app, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output
    second = runner.invoke(app, ["demo"], env=env)
    assert "already loaded" in second.output
    demo = json.loads((tmp_path / "demo.json").read_text())
    a, b = demo["users"]
    merchant = demo["merchant"]["merchant_id"]
    r = runner.invoke(
        app,
        [
            "transfer",
            a["user_id"],
            b["user_id"],
            "12.34",
            "cli-1",
            "--pay-password",
            a["pay_password"],
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["pay", a["user_id"], merchant, "100.00", "cli-2", "--pay-password", a["pay_password"]],
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert "60 (0.60 CNY)" in r.output  # the 0.6% fee
    r = runner.invoke(app, ["balance", b["user_id"]], env=env)
    assert "1001234" in r.output
    r = runner.invoke(
        app,
        ["pay", a["user_id"], merchant, "1.234", "cli-3", "--pay-password", a["pay_password"]],
        env=env,
    )
    assert r.exit_code == 2 and "at most two decimals" in r.output
    r = runner.invoke(
        app,
        [
            "pay",
            a["user_id"],
            merchant,
            "99999999.00",
            "cli-4",
            "--pay-password",
            a["pay_password"],
        ],
        env=env,
    )
    assert r.exit_code == 1 and "SINGLE_LIMIT_EXCEEDED" in r.output
    r = runner.invoke(app, ["statement", a["user_id"]], env=env)
    assert r.exit_code == 0 and "payment" in r.output
    r = runner.invoke(app, ["ledger", "check"], env=env)
    assert r.exit_code == 0, r.output
    assert "money in transit between units: 0 fen" in r.output
