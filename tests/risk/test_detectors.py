"""The near-real-time detectors (issue 9 item 5): cycles, round trips, fan-out, fan-in and dormant
accounts, first as pure functions at their edges, then over a real platform's stream, where a
finding opens one case however often the job runs or restarts; and the AML screen at
registration (an ID-number hit freezes the new wallet)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from qianbao.members import service as members
from qianbao.members.identity import make_id_number
from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.risk import service as risk
from qianbao.risk import stream
from qianbao.risk.detectors import (
    DAY_MS,
    DetectorConfig,
    Move,
    cycles,
    detect,
    dormant,
    fan_in,
    fan_out,
)
from qianbao.risk.errors import PartyFrozen
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.risk.conftest import write_rules

CFG = DetectorConfig()
H = 3_600_000


def _t(a: str, b: str, at_h: float, yuan: int = 500, kind: str = "TRANSFER") -> Move:
    return Move(int(at_h * H), a, b, yuan * 100, kind)


# --- pure ---------------------------------------------------------------------------------------
def test_a_ring_in_time_order_is_one_cycle_and_a_near_equal_return_a_round_trip():
    ring = [_t("A", "B", 1), _t("B", "C", 2), _t("C", "A", 3, 490)]
    (found,) = cycles(ring, CFG)
    assert found.detector == "round_trip" and found.party == "A"
    assert "A → B → C → A" in found.summary and set(found.parties) == {"A", "B", "C"}
    (lossy,) = cycles([_t("A", "M", 1), _t("M", "A", 2, 300)], CFG)
    assert lossy.detector == "cycle"  # 40% kept on the way: a cycle, not a round trip
    assert cycles(ring[::-1], CFG) == cycles(ring, CFG)  # input order does not matter


def test_no_cycle_out_of_time_order_outside_the_window_below_the_minimum_or_too_long():
    jumbled = [_t("A", "B", 1), _t("B", "C", 3), _t("C", "A", 2)]  # no hop order goes round
    assert cycles(jumbled, CFG) == []
    assert cycles([_t("A", "B", 1), _t("B", "A", 1 + 24.01)], CFG) == []
    assert cycles([_t("A", "B", 1, 99), _t("B", "A", 2, 99)], CFG) == []  # ¥99 < ¥100
    five = [_t(a, b, i) for i, (a, b) in enumerate(zip("ABCDE", "BCDEA", strict=True))]
    assert cycles(five, CFG) == []  # 5 hops: beyond MAX_CYCLE_HOPS
    assert len(cycles(five[:3] + [_t("D", "A", 9)], CFG)) == 1  # 4 hops: found


def test_the_same_ring_has_the_same_key_whatever_else_the_window_holds():
    ring = [_t("A", "B", 1), _t("B", "A", 2)]
    noise = [_t("X", "Y", 0.5), _t("B", "A", 5)]
    assert [f.key for f in cycles(ring, CFG)] == [f.key for f in cycles(ring + noise, CFG)]


def test_fan_out_and_fan_in_at_their_thresholds():
    out = [_t("M", f"p{i}", i / 10, 200) for i in range(8)]
    (f,) = fan_out(out, CFG)
    assert f.detector == "fan_out" and f.party == "M" and "8 payees" in f.summary
    assert fan_out(out[:7], CFG) == []  # 7 distinct payees: below 8
    spread = [_t("M", f"p{i}", i * 0.2, 200) for i in range(8)]  # 1.4 h: never 8 in one hour
    assert fan_out(spread, CFG) == []
    assert fan_out([_t("M", f"p{i}", i / 10, 100) for i in range(8)], CFG) == []  # ¥800
    into = [_t(f"p{i}", "MULE", i / 10, 200) for i in range(8)]
    assert [f.party for f in fan_in(into, CFG)] == ["MULE"]
    paying = [_t(f"p{i}", "SHOP", i / 10, 200, "PAY") for i in range(8)]
    assert fan_in(paying, CFG) == []  # a shop's many customers are no fan-in


def test_dormant_means_silent_long_then_large_not_new():
    at = 100 * DAY_MS
    woke = [Move(at, "D", "X", 3_000_00, "TRANSFER"), Move(at + H, "D", "Y", 2_000_00, "PAYOUT")]
    (f,) = dormant(woke, {"D": at - 91 * DAY_MS}, CFG)
    assert f.detector == "dormant" and "silent 91 days" in f.summary
    assert dormant(woke, {"D": at - 89 * DAY_MS}, CFG) == []  # not silent long enough
    assert dormant(woke, {}, CFG) == []  # never moved before: a new account
    assert dormant(woke[:1], {"D": at - 91 * DAY_MS}, CFG) == []  # ¥3,000 < ¥5,000
    assert len(detect(woke, {"D": 0}, CFG)) == 1


def test_settings_name_known_detector_knobs_only():
    assert DetectorConfig.of({"fan_min_parties": 3}).fan_min_parties == 3
    with pytest.raises(ValueError, match="unknown detector settings"):
        DetectorConfig.of({"fan_min_partys": 3})


# --- over a real platform's stream ------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def dp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    rules = write_rules(tmp_path / "rules.yaml")
    detectors = {"fan_min_parties": 4, "fan_min_total_fen": 400_00, "dormant_min_fen": 800_00}
    extra = {"risk": {"rules_path": str(rules), "detectors": detectors}}
    p = make_platform(request.param, tmp_path / "data", extra=extra)
    try:
        yield p
    finally:
        clock.use_real_time()
        p.close()


def _send(p: Platform, a: str, b: str, fen: int, key: str) -> None:
    with use(RequestContext(device_id=f"dev-{a}", ip="10.0.0.9")):
        payments.transfer(p, a, b, fen, key, PAY_PASSWORD)


def _detector_cases(p: Platform) -> list[str]:
    return sorted(c["summary"].split(":")[0] for c in risk.cases(p) if c["source"] == "DETECTOR")


def test_the_stream_opens_one_case_per_finding_across_runs_and_restarts(dp):
    p, start = dp, datetime(2026, 3, 2, 9, 0)
    clock.set(start)
    sleeper, first = new_user(p, balance_fen=3_000_00), new_user(p)
    _send(p, sleeper, first, 1_00, "wake-0")  # its last movement before the silence
    clock.set(start + timedelta(days=120))
    a, b, c = (new_user(p, unit=i % 2, balance_fen=2_000_00) for i in range(3))
    run = stream.job(p)
    assert run()["opened"] == 0
    _send(p, a, b, 500_00, "r1")  # the ring a → b → c → a, across units
    clock.set(start + timedelta(days=120, hours=1))
    _send(p, b, c, 500_00, "r2")
    _send(p, c, a, 495_00, "r3")
    fans = [new_user(p, unit=i % 2) for i in range(4)]
    for i, f in enumerate(fans):
        _send(p, b, f, 100_00, f"fan-{i}")
    _send(p, sleeper, c, 900_00, "wake-1")
    assert run()["opened"] == 3
    assert _detector_cases(p) == ["dormant", "fan_out", "round_trip"]
    clock.set(start + timedelta(days=120, hours=2))
    assert run()["opened"] == 0  # the same findings again: no new case
    assert stream.job(p)()["opened"] == 0  # a restarted process reads the window again
    assert len(_detector_cases(p)) == 3
    assert_ledger_clean(p)


# --- AML screening at registration -------------------------------------------------------------
def test_an_id_number_hit_at_registration_freezes_the_new_wallet_and_opens_a_case(dp):
    p = dp
    listed = make_id_number("110101", datetime(1980, 5, 5).date(), 77)
    risk.load_watchlist(p, f"name,id_number\n某某,{listed}\n张同名,\n", "op-aml")
    new = members.NewUser("王五", listed, "13900000077", LOGIN_PASSWORD, PAY_PASSWORD)
    user = members.register_user(p, new)
    assert [f["party_id"] for f in risk.freezes(p)] == [user["id"]]
    assert any(c["party_id"] == user["id"] and c["source"] == "AML" for c in risk.cases(p))
    shop = new_user(p, balance_fen=100_00)
    with use(RequestContext(device_id="d", ip="10.0.0.1")), pytest.raises(PartyFrozen):
        payments.transfer(p, user["id"], shop, 1_00, "frozen-1", PAY_PASSWORD)
    same_name = members.register_user(
        p,
        members.NewUser(
            "张同名",
            make_id_number("110101", datetime(1981, 6, 6).date(), 78),
            "13900000078",
            LOGIN_PASSWORD,
            PAY_PASSWORD,
        ),
    )
    assert same_name["id"] not in {f["party_id"] for f in risk.freezes(p)}  # names collide
    assert any(c["party_id"] == same_name["id"] for c in risk.cases(p))
    assert_ledger_clean(p)
