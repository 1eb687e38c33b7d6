"""A process with ``owned_units`` writes only its own units: a write for another unit is a clear
503 (SYSTEM_BUSY), and the in-process relay leaves messages for a unit it does not own pending
(only a broker reaches that unit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qianbao.bootstrap import open_platform
from qianbao.payments import service as payments
from qianbao.platform.errors import Busy
from tests.conftest import fast_settings
from tests.factories import PAY_PASSWORD, card_of, new_user


def test_only_the_owned_units_are_written(tmp_path: Path) -> None:
    both = open_platform(fast_settings(tmp_path))
    payer, payee = new_user(both, unit=0, balance_fen=10_00), new_user(both, unit=1)
    both.close()
    p = open_platform(fast_settings(tmp_path, owned_units=(0,)))
    try:
        assert p.owned_units == (0,) and p.owns(0) and not p.owns(1)
        assert [w.alive() for w in p.writers] == [True, False]
        with pytest.raises(Busy) as err:
            payments.topup(p, payee, card_of(p, payee), 1_00, "not-mine")
        assert err.value.http_status == 503
        payments.transfer(p, payer, payee, 3_00, "across", PAY_PASSWORD)
        assert p.relay.drain() == 0  # unit 1 is another process's: nothing delivered, no error
        with p.units[0].read() as tx:
            assert tx.scalar("SELECT status FROM messages") == "CONFIRMED"  # pending, not lost
        assert payments.balance(p, payee)["balance_fen"] == 0
    finally:
        p.close()
    again = open_platform(fast_settings(tmp_path))  # the owner of both delivers it
    try:
        again.relay.drain()
        assert payments.balance(again, payee)["balance_fen"] == 3_00
    finally:
        again.close()


def test_owned_units_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from qianbao.platform.settings import load_settings

    monkeypatch.setenv("QIANBAO_OWNED_UNITS", "1, 3")
    monkeypatch.setenv("QIANBAO_LOG_REQUESTS", "false")
    settings = load_settings(Path("/nonexistent.toml"))
    assert settings.owned_units == (1, 3) and settings.log_requests is False
