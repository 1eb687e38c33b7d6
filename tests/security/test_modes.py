"""Sandbox and production modes (issue 11, item 1): production refuses the default secret key,
demo data and an unnamed bank simulator; the sandbox starts as ``make run`` needs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from qianbao.bootstrap import open_platform
from qianbao.cli import app
from qianbao.demo import DEMO_MERCHANT, load_demo
from qianbao.members import service as members
from qianbao.platform.modes import StartRefused, start_problems
from qianbao.platform.settings import DEFAULT_SECRET_KEY
from tests.conftest import fast_settings

GOOD_KEY = "k" * 40


def _problems(tmp_path, demo=False, **kw):
    return start_problems(fast_settings(tmp_path, **kw), demo_present=demo)


def test_each_production_rule_alone(tmp_path):
    ok = {"env": "production", "secret_key": GOOD_KEY, "bank_channel": "simulator"}
    assert _problems(tmp_path, **ok) == []
    assert "default" in _problems(tmp_path, **{**ok, "secret_key": DEFAULT_SECRET_KEY})[0]
    assert "32 characters" in _problems(tmp_path, **{**ok, "secret_key": "short"})[0]
    assert "demo data" in _problems(tmp_path, demo=True, **ok)[0]
    assert "simulator" in _problems(tmp_path, **{**ok, "bank_channel": ""})[0]
    assert "QIANBAO_ENV" in _problems(tmp_path, env="prod")[0]
    assert "unknown bank_channel" in _problems(tmp_path, bank_channel="icbc")[0]
    # the sandbox tolerates all of it
    assert _problems(tmp_path, demo=True) == []


def test_production_refuses_to_open_with_the_defaults(tmp_path):
    with pytest.raises(StartRefused) as refused:
        open_platform(fast_settings(tmp_path, env="production"))
    assert isinstance(refused.value, SystemExit)  # the process stops: message on stderr, status 1
    assert len(refused.value.problems) == 2  # the default key and the unnamed simulator
    assert "secret_key" in str(refused.value)


def test_production_refuses_a_data_set_with_demo_data(tmp_path):
    """The demo's merchant in the global database, or its demo.json, is demo data (loading the
    whole demo takes seconds: its two marks are made directly)."""
    p = open_platform(fast_settings(tmp_path))
    try:
        members.create_merchant(p, DEMO_MERCHANT)
    finally:
        p.close()
    production = {"env": "production", "secret_key": GOOD_KEY, "bank_channel": "simulator"}
    with pytest.raises(StartRefused) as refused:
        open_platform(fast_settings(tmp_path, **production))
    assert refused.value.problems == [
        "demo data is loaded (demo.json or the demo merchant): start on fresh data"
    ]
    other = tmp_path / "other"
    other.mkdir()
    (other / "demo.json").write_text("{}")
    with pytest.raises(StartRefused):
        open_platform(fast_settings(other, **production))


def test_production_starts_when_everything_is_named_and_refuses_demo(tmp_path):
    p = open_platform(
        fast_settings(tmp_path, env="production", secret_key=GOOD_KEY, bank_channel="simulator")
    )
    try:
        assert p.settings.production and not p.settings.allow_private_targets
        with pytest.raises(StartRefused):
            load_demo(p)
        assert not (tmp_path / "demo.json").exists()
    finally:
        p.close()


def test_the_cli_refuses_to_serve_in_production_with_a_message(tmp_path):
    env = {"QIANBAO_DATA_DIR": str(tmp_path), "QIANBAO_ENV": "production"}
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert result.exit_code == 1
    assert "refuses to start" in str(result.exception) or "refuses" in result.output
    result = CliRunner().invoke(app, ["demo"], env={**env, "QIANBAO_SECRET_KEY": GOOD_KEY})
    assert result.exit_code == 1
