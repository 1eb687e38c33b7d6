"""``qianbao notices`` on a real data directory."""

from __future__ import annotations

from datetime import datetime

from typer.testing import CliRunner

from qianbao.cli import app
from qianbao.platform.clock import clock
from tests.conftest import make_platform
from tests.factories import new_user

runner = CliRunner()


def test_notices_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime(2026, 3, 2, 12, 0))
    try:
        p = make_platform("sqlite", tmp_path)
        user = new_user(p)
        p.close()
        env = {
            "QIANBAO_DATA_DIR": str(tmp_path),
            "QIANBAO_PASSWORD_TIME_COST": "1",
            "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
            "COLUMNS": "250",
        }

        def cli(*args: str) -> str:
            result = runner.invoke(app, ["notices", *args], env=env)
            assert result.exit_code == 0, result.output
            return result.output

        assert "en" in cli("prefs", user, "--language", "en")
        params = '{"day": "2026-03-01", "income_fen": 123}'
        assert "notice" in cli("send", user, "yuebao_income", params, "--dedupe-key", "cli-1")
        assert "sent" in cli("deliver")
        assert "Yu'e Bao income for 2026-03-01: CNY 1.23" in cli("log", user)
        assert "SENT" in cli("list", user) and "SENT" in cli("stats")
        bad = runner.invoke(
            app, ["notices", "send", user, "nope", "{}", "--dedupe-key", "k"], env=env
        )
        assert bad.exit_code == 1 and "NOTICE_KIND_UNKNOWN" in bad.output
    finally:
        clock.use_real_time()
