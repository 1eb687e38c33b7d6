"""A payee's home unit tells the other units about the transfers to it (``risk/payees.py``,
ADR 0621): on a real two-unit platform a payer's unit learns, through the messages, of the
payee's payers in the other unit, the payee's home sees every payer, and a view older than the
one held, or a message delivered twice, changes nothing."""

from __future__ import annotations

import math
from datetime import timedelta

from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.writer import wait_until
from qianbao.risk import payees
from qianbao.risk import service as risk
from qianbao.risk.counters import Counters
from qianbao.risk.decide import State, decide
from qianbao.risk.features import DAY_MS, NAMES, PayeeView, Payer
from qianbao.risk.model import NO_MODEL
from tests.factories import PAY_PASSWORD, new_user
from tests.risk.conftest import write_rules
from tests.risk.test_grooming import transfer

F = {name: i for i, name in enumerate(NAMES)}
HOME = RequestContext(device_id="phone-1", ip="10.0.0.1")


def _send(p, payer, payee, key):
    with use(HOME):
        payments.transfer(p, payer, payee, 10_00, key, PAY_PASSWORD)


def _features(p, payer, payee):
    e = risk.engine(p)
    state = e.units[p.unit_of(payer)].state
    d = decide(
        e.rules.get(),
        NO_MODEL,
        state,
        None,
        e.lists(),
        transfer(payer, payee, 10_00),
        HOME,
        clock.now_ms(),
    )
    return d.features


def test_a_payer_sees_the_payees_payers_in_the_other_unit(tmp_path):
    from tests.conftest import make_platform

    extra = {"risk": {"rules_path": str(write_rules(tmp_path / "rules.yaml"))}}
    clock.set(clock.now())
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        units = risk.engine(p).units
        u, w1 = new_user(p, unit=0, balance_fen=1_000_00), new_user(p, unit=0, balance_fen=1_000_00)
        v, w2 = new_user(p, unit=1), new_user(p, unit=1, balance_fen=1_000_00)
        w3, x = new_user(p, unit=1, balance_fen=1_000_00), new_user(p, unit=1)
        _send(p, w2, v, "a")  # in the payee's unit: its first view goes to unit 0
        assert _delivered(p, lambda: v in units[0].state.views)
        assert _features(p, u, v)[F["payee_payers_7d"]] == math.log1p(1)  # w2, from the view
        assert units[0].state.views[v].payers[0].first_ms > 0
        _send(p, w1, v, "b")  # from unit 0: told to the payee's home
        assert _delivered(p, lambda: _features(p, w3, v)[F["payee_payers_7d"]] == math.log1p(2))
        clock.set(clock.now() + timedelta(seconds=payees.PUBLISH_EVERY_MS / 1000 + 1))
        _send(p, w3, x, "c")  # the payee's unit's next batch: its views are due
        assert _delivered(p, lambda: len(units[0].state.views[v].payers) == 2)
        got = _features(p, u, v)
        assert got[F["payee_payers_7d"]] == math.log1p(2)  # w1 here and in the view: once
        assert got[F["payee_new_payers_7d"]] == math.log1p(2)  # both paid v for the first time
        assert got[F["payee_fanin_24h"]] == math.log1p(2)
        view = units[0].state.views[v]
        assert {x.payer for x in view.payers} == {w1, w2}
        assert all(x.first_ms > 0 for x in view.payers)  # the payers' first payments travel
    finally:
        clock.use_real_time()
        p.close()


def _delivered(p, done) -> bool:
    """The relay (a thread of its own) has delivered what ``done`` waits for."""
    return wait_until(lambda: p.relay.drain() >= 0 and done(), timeout_s=10.0)


def test_an_older_view_changes_nothing_and_an_old_one_is_past_the_window():
    state = State(Counters())
    t = 10 * DAY_MS
    newer = payees.encode("v", PayeeView(t, 2, (Payer(t - 5, "a", t - 5), Payer(t - 4, "b", -1))))
    older = payees.encode("v", PayeeView(t - 1, 1, (Payer(t - 5, "a", t - 5),)))
    assert payees.keep(state, newer, t) and not payees.keep(state, older, t)
    assert not payees.keep(state, newer, t)  # the same one again (a redelivery)
    assert state.views["v"].count == 2
    w = World()
    at = t + 8 * DAY_MS  # the view's transfers have left the window
    x = decide(w.rs, NO_MODEL, state, None, w.lists, transfer("u", "v", 1_000), HOME, at).features
    assert x[F["payee_payers_7d"]] == 0.0 and x[F["payee_seen_days"]] == 0.0
    x = decide(w.rs, NO_MODEL, state, None, w.lists, transfer("u", "v", 1_000), HOME, t).features
    assert x[F["payee_payers_7d"]] == math.log1p(2) and x[F["payee_new_payers_7d"]] == math.log1p(1)


class World:
    def __init__(self) -> None:
        from qianbao.risk.decide import Lists
        from tests.risk.test_grooming import BIG
        from tests.risk.test_rules import rules

        self.rs, self.lists = rules(BIG), Lists()


def test_a_payers_first_payment_is_kept_with_the_payee_and_survives_a_restart(tmp_path):
    """The payee's unit stores a cross-unit payer's first payment under the payee (its own
    user: the row lives where its key routes, so a bucket move takes it along) and remembers
    it after a restart."""
    from tests.conftest import make_platform

    extra = {"risk": {"rules_path": str(write_rules(tmp_path / "rules.yaml"))}}
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        w1 = new_user(p, unit=0, balance_fen=1_000_00)
        v, w2 = new_user(p, unit=1), new_user(p, unit=1, balance_fen=1_000_00)
        _send(p, w1, v, "first")
        assert _delivered(p, lambda: risk.engine(p).units[1].state.first_paid(w1, v) is not None)
        with p.units[1].read() as tx:
            rows = tx.all("SELECT user_id, kind, value FROM risk_known WHERE value = :w", {"w": w1})
            owners = [str(r["user_id"]) for r in tx.all("SELECT user_id FROM risk_known")]
        assert [(r["user_id"], r["kind"], r["value"]) for r in rows] == [(v, "PAYER", w1)]
        assert {p.unit_of(owner) for owner in owners} == {1}
        first_ms = risk.engine(p).units[1].state.first_paid(w1, v)
    finally:
        p.close()
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        _send(p, w2, v, "after-restart")  # unit 1's first batch loads its profiles
        assert risk.engine(p).units[1].state.first_paid(w1, v) == first_ms
    finally:
        p.close()
