"""``qianbao redpacket`` on a real data directory."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from qianbao.cli import app
from qianbao.platform.clock import clock
from tests.conftest import make_platform
from tests.factories import PAY_PASSWORD, new_user

runner = CliRunner()


def test_redpacket_cli(tmp_path: Path) -> None:
    clock.set(datetime(2026, 3, 2, 12, 0))
    try:
        p = make_platform("sqlite", tmp_path)
        alice, bob, carol = new_user(p, balance_fen=100_000), new_user(p), new_user(p)
        p.close()
        env = {
            "QIANBAO_DATA_DIR": str(tmp_path),
            "QIANBAO_PASSWORD_TIME_COST": "1",
            "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
            "COLUMNS": "250",
        }

        def cli(*args: str, code: int = 0) -> str:
            result = runner.invoke(app, ["redpacket", *args], env=env)
            assert result.exit_code == code, result.output
            return result.output

        out = cli("group", alice, "同学群", bob, carol)
        group_id = re.search(r"group_id\s+│?\s*(\d{18})", out)
        assert group_id, out
        sent = cli(
            "send", alice, "3.00", "--group", group_id.group(1), "--shares", "3", "--fixed",
            "--request-id", "cli-1", "--pay-password", PAY_PASSWORD,
        )  # fmt: skip
        packet = re.search(r"packet_id\s+│?\s*(\d{18})", sent)
        assert packet and "900" in sent, sent
        assert "300" in cli("claim", packet.group(1), bob)
        bad = ("send", alice, "1.00", "--group", group_id.group(1), "--shares", "0")
        assert "RED_PACKET_INVALID" in cli(*bad, "--request-id", "cli-2", code=1)
        clock.advance(timedelta(hours=25))
        assert "600" in cli("refund-expired")
        assert "REFUNDED" in cli("show", packet.group(1), alice)
    finally:
        clock.use_real_time()
