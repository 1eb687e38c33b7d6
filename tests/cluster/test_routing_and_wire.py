"""The route table setting, and what may travel to a unit's process (no server needed)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from qianbao.ledger.service import OpenAccount
from qianbao.payments.errors import OutTradeNoUsed
from qianbao.platform.errors import NotDistributed, QianbaoError, UnitUnavailable
from qianbao.platform.ids import BUCKETS
from qianbao.platform.remote import RemoteWriter, decode_error, encode_error, read_only_url
from qianbao.platform.routing import (
    RouteTableError,
    even_split,
    format_route_table,
    parse_route_table,
)
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings


def test_the_default_route_table_is_the_old_formula() -> None:
    for units in (1, 2, 3, 7):
        assert parse_route_table("", units) == tuple(b * units // BUCKETS for b in range(BUCKETS))
        assert parse_route_table(format_route_table(even_split(units)), units) == even_split(units)


def test_a_configured_route_table_moves_buckets() -> None:
    table = parse_route_table("0-9:1,10-99:0", 2)
    assert table[0] == table[9] == 1 and table[10] == table[99] == 0
    p = Platform(Settings(data_dir=Path("/tmp/unused"), route_table="0-9:1,10-99:0"))
    try:
        assert p.unit_of("1234567890123456" + "05") == 1
        assert p.first_bucket(1) == 0 and p.first_bucket(0) == 10
    finally:
        p.close()


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("0-49:0", "without a unit"),
        ("0-60:0,50-99:1", "routed twice"),
        ("0-99:2", "does not exist"),
        ("0-100:0", "buckets are 0-99"),
        ("zero:0", "expected FIRST-LAST:UNIT"),
    ],
)
def test_a_bad_route_table_is_refused_with_its_reason(spec: str, reason: str) -> None:
    with pytest.raises(RouteTableError, match=reason):
        parse_route_table(spec, 2)


def _distributed(tmp_path: Path, port: int) -> Platform:
    settings = Settings(
        data_dir=tmp_path,
        unit_endpoints=(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"),
        unit_connect_timeout_ms=500,
    )
    p = Platform(settings)
    from qianbao.bootstrap import register_error_codes, wire_money_movement

    wire_money_movement(p)
    register_error_codes(p)
    return p


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens once closed


def test_only_commands_travel_and_a_down_unit_is_unit_unavailable(tmp_path: Path) -> None:
    p = _distributed(tmp_path, _closed_port())
    try:
        assert p.owned_units == () and all(isinstance(w, RemoteWriter) for w in p.writers)
        with pytest.raises(NotDistributed) as closure:
            p.writers[0].submit(lambda ctx: None)
        assert closure.value.http_status == 501
        with pytest.raises(UnitUnavailable) as down:
            p.writers[1].submit(OpenAccount("user_balance:x", "x"))
        assert down.value.http_status == 503 and down.value.retry_after_s == 2
        assert "nothing was applied" in down.value.message
    finally:
        p.close()


def test_domain_errors_cross_the_wire_as_their_own_class() -> None:
    again = decode_error(encode_error(OutTradeNoUsed("out_trade_no 'x' was used")))
    assert isinstance(again, OutTradeNoUsed) and again.code == OutTradeNoUsed.code
    unknown = decode_error({"type": "x.Y", "code": "SOMETHING", "message": "m", "http_status": 409})
    assert isinstance(unknown, QianbaoError) and unknown.http_status == 409
    assert encode_error(ValueError("boom"))["type"] == "internal"


def test_access_sessions_to_a_unit_database_are_read_only() -> None:
    url = read_only_url("postgresql://u@h:5432/qb_unit0")
    assert url.endswith("?options=-c%20default_transaction_read_only%3Don")
    assert read_only_url("sqlite:///var/unit0.db") == "sqlite:///var/unit0.db"
