"""A platform with Yu'e Bao configured (the worked week's holiday), on each engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from tests.conftest import ENGINES, make_platform
from tests.wealth.helpers import CONFIG


@pytest.fixture(params=ENGINES)
def yp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    p = make_platform(request.param, tmp_path, extra=CONFIG)
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()


@pytest.fixture
def sqlite_yp(tmp_path: Path) -> Iterator[Platform]:
    p = make_platform("sqlite", tmp_path, extra=CONFIG)
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()
