"""Property tests for red packets: the split (exact sum, at least 0.01 CNY, fair in
expectation), and random sequences of claims, repeats and time passing on a real platform (no
double claim, never more than N claims, the refund once, every fen accounted for, the ledger
clean)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.redpackets import claims, split
from qianbao.redpackets import service as redpackets
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import new_user


@given(
    total=st.integers(min_value=1, max_value=20_000_000),
    shares=st.integers(min_value=1, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_random_split_is_exact_and_at_least_a_fen(total: int, shares: int, seed: int) -> None:
    if total < shares:
        with pytest.raises(ValueError):
            split.split_random(total, shares, random.Random(seed))
        return
    amounts = split.split_random(total, shares, random.Random(seed))
    assert len(amounts) == shares and sum(amounts) == total and min(amounts) >= 1


@given(each=st.integers(min_value=1, max_value=2_000_000), shares=st.integers(1, 200))
def test_fixed_split_is_equal(each: int, shares: int) -> None:
    assert split.split_fixed(each, shares) == [each] * shares


def test_random_split_is_fair_in_expectation() -> None:
    """Every position (the first claimer's, the last's) averages total / n: over 20,000 packets
    of 100.00 CNY in 5 shares, each position's mean is within 1% of 20.00 CNY (the standard
    error is about 0.1%), and the tightest packet (n fen in n shares) is all ones."""
    rng = random.Random(20260302)
    total, shares, rounds = 10_000, 5, 20_000
    sums = [0] * shares
    for _ in range(rounds):
        for i, amount in enumerate(split.split_random(total, shares, rng)):
            sums[i] += amount
    for position_sum in sums:
        assert abs(position_sum / rounds - total / shares) < 0.01 * total / shares
    assert split.split_random(7, 7, rng) == [1] * 7


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, list[str]]]:
    p = make_platform("sqlite", Path(tmp_path_factory.mktemp("redpackets")))
    try:
        clock.set(datetime(2026, 3, 2, 12, 0))
        users = [new_user(p, unit=i % 2, balance_fen=10_000_000 if i == 0 else 0) for i in range(6)]
        yield p, users
    finally:
        clock.use_real_time()
        p.close()


step = st.one_of(
    st.tuples(st.just("claim"), st.integers(0, 5)),
    st.tuples(st.just("wait_h"), st.integers(1, 30)),
    st.tuples(st.just("refund"), st.just(0)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    total=st.integers(min_value=5, max_value=100_000),
    shares=st.integers(min_value=1, max_value=5),
    random_kind=st.booleans(),
    steps=st.lists(step, min_size=1, max_size=14),
)
def test_claims_never_double_never_over_n_refund_once(
    world: tuple[Platform, list[str]], total: int, shares: int, random_kind: bool, steps: list
) -> None:
    p, users = world
    sender = users[0]
    clock.advance(timedelta(days=2))  # a fresh day: the daily limit does not carry over
    group = redpackets.create_group(p, sender, "prop", users[1:])
    amount = total if random_kind else max(1, total // shares)
    sent = redpackets.send(
        p, sender, kind="RANDOM" if random_kind else "FIXED", amount_fen=amount, shares=shares,
        group_id=group["group_id"], request_id=f"prop-{group['group_id']}", pay_password="135790",
    )  # fmt: skip
    packet_id, packet_total = sent["packet_id"], sent["total_fen"]
    got: dict[str, int] = {}
    refunded = 0
    for kind, arg in steps:
        if kind == "claim":
            user = users[arg]
            try:
                claimed = claims.claim(p, packet_id, user)
            except QianbaoError as exc:
                assert exc.code in ("RED_PACKET_EMPTY", "RED_PACKET_EXPIRED"), exc.code
                continue
            assert got.setdefault(user, claimed["amount_fen"]) == claimed["amount_fen"]
        elif kind == "wait_h":
            clock.advance(timedelta(hours=arg))
        else:
            refunded += claims.refund_expired(p)["refunded_fen"]
    clock.advance(timedelta(hours=25))
    refunded += claims.refund_expired(p)["refunded_fen"]
    assert claims.refund_expired(p)["refunded_fen"] == 0  # once
    view = claims.get_packet(p, packet_id, sender)
    assert len(got) <= shares and len(view["claims"]) == len(got)
    assert {c["claimer_id"]: c["amount_fen"] for c in view["claims"]} == got
    assert sum(got.values()) + refunded == packet_total
    assert view["refunded_fen"] == refunded
    assert view["status"] == ("FINISHED" if len(got) == shares else "REFUNDED")
    assert_ledger_clean(p)
