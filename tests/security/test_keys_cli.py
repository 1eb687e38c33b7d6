"""``qianbao keys``: an operator's new key is printed once on the terminal; the old one stops."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from qianbao.cli import app

runner = CliRunner()


def test_rotate_revoke_and_end_sessions_from_the_terminal(tmp_path):
    env = {
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
        "COLUMNS": "200",
    }
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    created = runner.invoke(app, ["operator", "create", "night-admin", "--role", "admin"], env=env)
    assert created.exit_code == 0, created.output
    old_key = re.search(r"(ok_[0-9a-f]{16}\.[\w-]+)", created.output).group(1)
    rotated = runner.invoke(
        app, ["keys", "rotate-operator", "night-admin", "--overlap-minutes", "0"], env=env
    )
    assert rotated.exit_code == 0, rotated.output
    new_key = re.search(r"shown once\): (ok_[0-9a-f]{16}\.[\w-]+)", rotated.output).group(1)
    assert new_key != old_key and f"revoked now: ['{old_key.partition('.')[0]}']" in rotated.output
    owner = created.output.split("│ id")[1].split("│")[1].strip()
    listed = runner.invoke(app, ["keys", "list", "operator", owner], env=env)
    assert "REVOKED" in listed.output and "ACTIVE" in listed.output
    unknown = runner.invoke(app, ["keys", "rotate-operator", "nobody"], env=env)
    assert unknown.exit_code == 1 and "OPERATOR_NOT_FOUND" in unknown.output
    revoked = runner.invoke(app, ["keys", "revoke", new_key.partition(".")[0]], env=env)
    assert revoked.exit_code == 0 and "REVOKED" in revoked.output
    ended = runner.invoke(app, ["keys", "end-sessions", "179000000000000000"], env=env)
    assert ended.exit_code == 0 and "ended 0 session(s)" in ended.output
