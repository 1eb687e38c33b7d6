"""Caches live on the Platform: two platforms in one process never answer from each other's."""

from __future__ import annotations

from pathlib import Path

import pytest

from qianbao.members import service as members
from qianbao.members.errors import MerchantNotFound
from qianbao.platform.runtime import Platform
from tests.conftest import make_platform


def _two(tmp_path: Path) -> tuple[Platform, Platform]:
    return make_platform("sqlite", tmp_path / "a"), make_platform("sqlite", tmp_path / "b")


def test_a_merchant_cached_by_one_platform_is_unknown_to_another(tmp_path: Path) -> None:
    a, b = _two(tmp_path)
    try:
        shop, _ = members.create_merchant(a, "Only In A")
        assert members.get_merchant_cached(a, shop["id"])["name"] == "Only In A"
        assert shop["id"] in a.merchant_cache and not b.merchant_cache
        with pytest.raises(MerchantNotFound) as refused:  # b has its own data and cache
            members.get_merchant_cached(b, shop["id"])
        assert refused.value.code == "MERCHANT_NOT_FOUND"
    finally:
        a.close()
        b.close()


def test_each_platform_has_its_own_caches(tmp_path: Path) -> None:
    a, b = _two(tmp_path)
    try:
        for name in ("token_cache", "merchant_cache", "scorecards", "error_codes"):
            assert getattr(a, name) is not getattr(b, name), name
        assert a.scorecard_lock is not b.scorecard_lock
        assert a.ledger_check is None and b.ledger_check is None
    finally:
        a.close()
        b.close()
