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
        for name in ("token_cache", "merchant_cache", "user_cache", "scorecards", "error_codes"):
            assert getattr(a, name) is not getattr(b, name), name
        assert a.scorecard_lock is not b.scorecard_lock
        assert a.ledger_check is None and b.ledger_check is None
    finally:
        a.close()
        b.close()


def test_password_free_payments_read_the_user_through_the_cache_and_see_changes(
    sqlite_platform: Platform,
) -> None:
    """The hot path reads a user at most every 2 s; a change this process makes is seen at
    once (the entry is dropped), and a payment with a password always reads fresh."""
    from qianbao.members.errors import PayPasswordRequired
    from tests.factories import PAY_PASSWORD, new_user

    p = sqlite_platform
    user = new_user(p, password_free_fen=100)
    assert members.authorize_payment(p, user, 100, None)["id"] == user
    assert user in p.user_cache
    members.set_password_free_limit(p, user, 0, PAY_PASSWORD)
    assert user not in p.user_cache
    with pytest.raises(PayPasswordRequired):
        members.authorize_payment(p, user, 100, None)
    members.authorize_payment(p, user, 100, PAY_PASSWORD)
