"""``qianbao openapi sandbox`` prints credentials that really work against the gateway."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qianbao.openapi import cli, signing


def test_sandbox_prints_working_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("QIANBAO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QIANBAO_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("QIANBAO_PASSWORD_MEMORY_KIB", "1024")
    runner = CliRunner()
    first = runner.invoke(cli.app, ["sandbox", "--json"])
    assert first.exit_code == 0, first.output
    creds = json.loads(first.stdout)  # the JSON alone (log lines go to stderr)
    again = json.loads(runner.invoke(cli.app, ["sandbox", "--json"]).stdout)
    assert again == creds  # created once
    text = "a=1&b=2"
    assert "BEGIN PRIVATE KEY" in creds["app_private_key"]
    sig = signing.sign_text(creds["app_private_key"], text)
    assert signing.verify_text(signing.public_pem_of(creds["app_private_key"]), text, sig)
    shown = runner.invoke(cli.app, ["sandbox"]).output
    assert creds["app_id"] in shown and "BEGIN PUBLIC KEY" in shown
    log = runner.invoke(cli.app, ["notify-log"])
    assert log.exit_code == 0
