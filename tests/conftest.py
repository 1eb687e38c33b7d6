"""Fixtures: a real platform on SQLite files (and on PostgreSQL when QIANBAO_TEST_PG_URL is set).

``platform`` is parametrised over the engines available; PostgreSQL databases are created fresh
per test on the server that ``scripts/pg-test-server.sh`` (or CI) started.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest

from qianbao.bootstrap import open_platform
from qianbao.ledger.service import check_platform
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings
from tests.db_templates import TEMPLATES

PG_URL = os.environ.get("QIANBAO_TEST_PG_URL", "")

# CI replays the same hypothesis examples on every run, so a red build means a change broke
# something; developers' runs keep drawing new examples (that is how bugs are found).
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")
ENGINES = ["sqlite", "postgres"]
pytest_plugins = ["tests.browser"]  # site, browser, page: the shared Chromium fixtures


def fast_settings(data_dir: Path, **kw: object) -> Settings:
    """Real argon2 with small parameters, so tests register many users quickly."""
    defaults: dict[str, object] = {
        "data_dir": data_dir,
        "password_time_cost": 1,
        "password_memory_kib": 1024,
        "relay_interval_ms": 10,
        "extra": {"risk": {"model": False}},  # risk rules on, model off (tests/risk use it)
    }
    defaults.update(kw)
    return Settings(**defaults)  # type: ignore[arg-type]


_pg_created: list[str] = []


def _pg_admin_url() -> str:
    return PG_URL.rstrip("/").rsplit("/", 1)[0] + "/postgres"


def _pg_databases(count: int) -> list[str]:
    import psycopg

    names = [f"qb_{uuid.uuid4().hex[:10]}_{i}" for i in range(count)]
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name}")
            _pg_created.append(name)
    return [_pg_admin_url().rsplit("/", 1)[0] + "/" + n for n in names]


def empty_database_url(engine: str, tmp_path: Path, file_name: str) -> str:
    """A new empty database: a SQLite file ``file_name`` under ``tmp_path``, or a PostgreSQL
    database on the test server (the test is skipped without one)."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / file_name}"
    if not PG_URL:
        pytest.skip("PostgreSQL not available (set QIANBAO_TEST_PG_URL)")
    return _pg_databases(1)[0]


@pytest.fixture(autouse=True)
def _drop_pg_databases() -> Iterator[None]:
    """Each test's PostgreSQL databases are dropped after it, so the test server stays small."""
    yield
    if not _pg_created:
        return
    import psycopg

    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        while _pg_created:
            conn.execute(f"DROP DATABASE IF EXISTS {_pg_created.pop()} WITH (FORCE)")


def _pg_migrated(kinds: list[str]) -> list[str]:
    """Fresh databases of ``kinds``, each a copy of its kind's migrated template."""
    names = [f"qb_{uuid.uuid4().hex[:10]}_{i}" for i in range(len(kinds))]
    for kind, name in zip(kinds, names, strict=True):
        TEMPLATES.pg_database(_pg_admin_url(), kind, name)
        _pg_created.append(name)
    return [_pg_admin_url().rsplit("/", 1)[0] + "/" + n for n in names]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    TEMPLATES.drop()


def make_platform(engine: str, data_dir: Path, **kw: object) -> Platform:
    """A platform on fresh databases, copied from ones migrated once per session
    (tests/db_templates.py)."""
    if engine == "postgres":
        if not PG_URL:
            if os.environ.get("QIANBAO_REQUIRE_PG"):
                pytest.fail("QIANBAO_REQUIRE_PG is set but no PostgreSQL server was started")
            pytest.skip("PostgreSQL not available (set QIANBAO_TEST_PG_URL)")
        units = int(kw.get("unit_count", 2))  # type: ignore[call-overload]
        urls = _pg_migrated(["global"] + ["unit"] * units)
        kw = {**kw, "global_url": urls[0], "unit_urls": tuple(urls[1:])}
    settings = fast_settings(data_dir, **kw)
    TEMPLATES.seed_sqlite(settings)
    return open_platform(settings)


@pytest.fixture(params=ENGINES)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    p = make_platform(request.param, tmp_path)
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()


@pytest.fixture
def sqlite_platform(tmp_path: Path) -> Iterator[Platform]:
    p = make_platform("sqlite", tmp_path)
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()


def assert_ledger_clean(p: Platform) -> None:
    """Relay drained; each unit sums to zero, balances equal postings, nothing in transit."""
    p.relay.drain()
    result = check_platform(p)
    assert result.ok, result.units
    assert result.in_transit_fen == 0


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scorecard trained once per test session on German Credit (a few seconds)."""
    from qianbao.scoring import registry
    from qianbao.scoring.data import load_german_credit
    from qianbao.scoring.train import german_params

    directory = tmp_path_factory.mktemp("scorecards")
    registry.train_and_register(directory, load_german_credit(), german_params(0))
    return directory


def use_trained_card(p: Platform, trained: Path) -> None:
    import shutil

    from qianbao.scoring import service as scoring

    shutil.copytree(trained, scoring.registry_dir(p))
