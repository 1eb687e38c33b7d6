"""One platform and server for the peak tests (opening one costs seconds on this machine);
each test sets the limits and switches it needs at run time, which is the feature under test,
and puts them back. The bank's breaker is tuned small so a dead bank shows in a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qianbao.platform.runtime import Platform
from tests.conftest import make_platform
from tests.http_server import serving

BANK_TIMEOUT_S = 1.0


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, str]]:
    p = make_platform(
        "sqlite",
        tmp_path_factory.mktemp("peak"),
        flow_refresh_ms=100,
        bank_call_timeout_s=BANK_TIMEOUT_S,
        bank_hang_ms=10_000,
        breaker_failures=3,
        breaker_open_s=0.5,
    )
    try:
        with serving(p) as url:
            yield p, url
    finally:
        p.close()
