"""``qianbao moneyout`` and ``qianbao billpay`` on a real data directory (one set-up for both):
a user pays a merchant, the merchant pays out, a card transfer, the daily payout, a bill paid,
and the ledger check afterwards."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qianbao.cli import app
from qianbao.platform.clock import clock
from tests.moneyout.helpers import fresh_card

runner = CliRunner()


def test_money_out_from_the_terminal(tmp_path):
    env = {
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
        "COLUMNS": "200",
    }
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    demo = json.loads((tmp_path / "demo.json").read_text())
    a = demo["users"][0]
    merchant = demo["merchant"]["merchant_id"]
    pw = ["--pay-password", a["pay_password"]]
    r = runner.invoke(app, ["pay", a["user_id"], merchant, "100.00", "m-1", *pw], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["moneyout", "payout", merchant, "10.00", "po-1"], env=env)
    assert r.exit_code == 1 and "PAYOUT_ACCOUNT_MISSING" in r.output
    r = runner.invoke(
        app, ["moneyout", "set-account", merchant, fresh_card(), "演示商户", "--auto"], env=env
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["moneyout", "payout", merchant, "10.00", "po-1"], env=env)
    assert r.exit_code == 0 and "SUCCEEDED" in r.output, r.output
    r = runner.invoke(app, ["moneyout", "payout", merchant, "0.001", "po-2"], env=env)
    assert r.exit_code == 2
    card = fresh_card()
    args = ["moneyout", "card-transfer", a["user_id"], card, "李四", "20.00", "ct-1", *pw]
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0 and "SUCCEEDED" in r.output, r.output
    r = runner.invoke(app, ["moneyout", "auto-payouts"], env=env)
    assert r.exit_code == 0 and "89.40" in r.output, r.output  # 100 − 0.60 fee − 10 paid out
    r = runner.invoke(app, ["moneyout", "auto-payouts"], env=env)
    assert r.exit_code == 0 and "skipped 1" in r.output
    r = runner.invoke(app, ["moneyout", "payouts", merchant], env=env)
    assert r.exit_code == 0 and r.output.count("SUCCEEDED") == 2
    assert runner.invoke(app, ["moneyout", "follow-up"], env=env).exit_code == 0
    _bills_from_the_terminal(env, a)
    r = runner.invoke(
        app,
        [
            "reduction",
            "create",
            "满100减10",
            "--tiers",
            "100:10,200:30",
            "--budget",
            "1000",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2026-12-31",
        ],
        env=env,
    )
    assert r.exit_code == 0 and "20000" in r.output, r.output
    r = runner.invoke(app, ["reduction", "list"], env=env)
    assert "100.00-10.00, 200.00-30.00" in r.output, r.output
    r = runner.invoke(
        app,
        [
            "reduction",
            "create",
            "坏的",
            "--tiers",
            "100:100",
            "--budget",
            "10",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2026-12-31",
        ],
        env=env,
    )
    assert r.exit_code == 1 and "REDUCTION_INVALID" in r.output
    r = runner.invoke(app, ["ledger", "check"], env=env)
    assert r.exit_code == 0, r.output


def _bills_from_the_terminal(env: dict[str, str], a: dict[str, str]) -> None:
    r = runner.invoke(app, ["billpay", "register", "SHGAS", "上海燃气", "GAS"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["billpay", "issue-bill", "SHGAS", "880001", "张三", "2026-11", "66.60", "2026-12-10"],
        env=env,
    )
    assert r.exit_code == 0 and "SHGAS-880001-2026-11" in r.output, r.output
    r = runner.invoke(app, ["billpay", "lookup", "SHGAS", "880001"], env=env)
    assert "66.60" in r.output
    r = runner.invoke(
        app,
        [
            "billpay",
            "pay",
            a["user_id"],
            "SHGAS",
            "880001",
            "SHGAS-880001-2026-11",
            "g-1",
            "--pay-password",
            a["pay_password"],
        ],
        env=env,
    )
    assert r.exit_code == 0 and "SUCCEEDED" in r.output, r.output
    r = runner.invoke(app, ["billpay", "register", "X", "某", "BEER"], env=env)
    assert r.exit_code == 1 and "BILLER_CATEGORY_INVALID" in r.output
    assert runner.invoke(app, ["billpay", "autopay"], env=env).exit_code == 0
    r = runner.invoke(
        app, ["billpay", "file", "SHGAS", "--day", clock.today().isoformat()], env=env
    )
    assert r.exit_code == 0 and "TOTAL,,,6660,1," in r.output, r.output
    r = runner.invoke(app, ["billpay", "reconcile", "SHGAS"], env=env)
    assert r.exit_code == 0, r.output
