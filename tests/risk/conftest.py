"""A platform with a small rule file of the test's own (rewritten by tests that reload it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from tests.conftest import make_platform

RULES = """
version: "t-1"
outcome: {challenge_at: 50, reject_at: 100}
refund_approval_fen: 100000
challenge_ttl_s: 60
challenge_attempts: 2
snapshot_every_s: 1
rules:
  - {id: block_list, kind: list, list: block, score: 1000}
  - {id: watch_list, kind: list, list: watch, score: 20}
  - {id: allow_list, kind: list, list: allow, score: 0, of: [user]}
  - {id: big, kind: threshold, at_least_fen: 500000, score: 50, kinds: [PAY, TRANSFER]}
  - {id: burst, kind: velocity, key: user, window_s: 60, measure: count, above: 4, score: 100,
     kinds: [PAY]}
  - {id: new_device, kind: new_device, min_amount_fen: 10000, score: 30}
  - {id: jump, kind: location_jump, max_kmh: 900, min_km: 100, score: 30}
"""


def write_rules(path: Path, text: str = RULES) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def rp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    """A platform whose risk rules are ``RULES`` (file at ``tmp_path/rules.yaml``)."""
    rules = write_rules(tmp_path / "rules.yaml")
    p = make_platform(request.param, tmp_path / "data", extra={"risk": {"rules_path": str(rules)}})
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()
