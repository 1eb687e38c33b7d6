"""The decision's fast path says what the plain definitions say: windows over the committed and
the batch's pending events against a scan of the events, the features' distinct counts and
near-limit counts against set comprehensions, the stored features against ``round(v, 4)``,
rules compiled once per rule set (a reloaded set compiles its own)."""

from __future__ import annotations

import itertools
import json
import math
import random
from dataclasses import asdict

from qianbao.money_movement.context import RequestContext
from qianbao.money_movement.ports import Movement
from qianbao.risk import model as risk_model
from qianbao.risk.counters import (
    DIMENSIONS,
    DISTINCT_EVENTS_MAX,
    Counters,
    Event,
    Look,
    Pending,
)
from qianbao.risk.decide import PASS, Decision, Reason, event_of, plan
from qianbao.risk.features import near_limit, near_limits
from qianbao.risk.record import inputs, inputs_json, reasons_json, stored_event
from qianbao.risk.rules import DEFAULT_PATH, load

T0 = 1_800_000_000_000


def _events(r: random.Random, n: int) -> list[Event]:
    at, out = T0, []
    for _ in range(n):
        at += r.choice([0, 1, 999, 1000, 1001, 30_000, 60_000])
        out.append(
            Event(
                at,
                r.choice([100, 449_999, 450_000, 499_999, 500_000, 4_600_000]),
                r.choice(["PAY", "TRANSFER"]),
                f"u{r.randrange(6)}",
                r.choice(["", "m1", "u2"]),
                r.choice(["", "d1", "d2"]),
                r.choice(["", "1.1.1.1"]),
                r.choice(["", "m1"]),
            )
        )
    return out


def _scan(events: list[Event], dimension: str, key: str, now_ms: int, window_ms: int):
    start = now_ms - window_ms
    inside = [e for e in events if e.key(dimension) == key and start < e.at_ms <= now_ms]
    return len(inside), sum(e.amount_fen for e in inside), tuple(inside[-DISTINCT_EVENTS_MAX:])


def test_windows_equal_a_scan_of_committed_and_pending_events():
    r = random.Random(7)
    for _ in range(30):
        events = _events(r, r.randrange(1, 300))
        split = r.randrange(len(events) + 1)
        counters = Counters()
        for e in events[:split]:
            counters.add(e)
        pending = Pending(counters)
        for e in events[split:]:
            pending.add(e)
        for _ in range(8):
            now_ms = r.choice(events).at_ms + r.choice([-1, 0, 1])
            look = Look(counters, now_ms)  # windows of several lengths, as a decision asks
            for window_ms, dimension, key in itertools.product(
                r.sample([1000, 60_000, 3_600_000, 86_400_000], 4),
                DIMENSIONS,
                ("u2", "m1", "d1", "1.1.1.1", ""),
            ):
                w = look(dimension, key, window_ms)
                count, total, newest = _scan(events, dimension, key, now_ms, window_ms)
                if not key:
                    count, total, newest = 0, 0, ()
                assert Look(counters, now_ms).count(dimension, key, window_ms) == count
                assert (w.count, w.sum_fen, w.events) == (count, total, newest)
                assert w.near_limits() == near_limits(newest)  # the log's running count
                assert w.newest() == (newest[-1] if newest else None)
                assert look(dimension, key, window_ms) is w  # computed once a decision
                assert look.count(dimension, key, window_ms) == count
                for of in DIMENSIONS:
                    assert w.values(of) == {e.key(of) for e in newest}
                    assert w.distinct(of, "u2") == len({e.key(of) for e in newest} - {"u2"})


def test_a_failed_command_s_event_is_taken_back_and_an_unfinished_batch_s_too():
    events = _events(random.Random(3), 120)
    counters = Counters()
    for e in events[:50]:
        counters.add(e)
    pending = Pending(counters)
    for e in events[50:80]:
        pending.add(e)
    mark = pending.mark()
    for e in events[80:]:
        pending.add(e)
    pending.rollback_to(mark)  # the later commands failed
    now_ms, hour = events[-1].at_ms, 3_600_000
    w = Look(counters, now_ms)("user", "u2", hour)
    assert (w.count, w.events) == _scan(events[:80], "user", "u2", now_ms, hour)[::2]
    Pending(counters)  # the next batch: this one never committed, nothing of it counts
    w = Look(counters, now_ms)("user", "u2", hour)
    assert (w.count, w.events) == _scan(events[:50], "user", "u2", now_ms, hour)[::2]
    assert counters.staged == [] and counters.unsaved == events[:50]
    settled = Pending(counters)
    for e in events[50:60]:
        settled.add(e)
    settled.settle(saved=False)  # committed: they stay, and go into the next snapshot's delta
    Pending(counters)
    assert counters.unsaved == events[:60] and counters.events == 60
    w = Look(counters, now_ms)("user", "u2", hour)
    assert w.count == _scan(events[:60], "user", "u2", now_ms, hour)[0]


def test_near_limits_counts_what_near_limit_says():
    amounts = [0, 100, 449_999, 450_000, 499_999, 500_000, 899_999, 900_000, 999_999]
    amounts += [1_000_000, 1_799_999, 1_800_000, 4_499_999, 4_500_000, 4_999_999, 5_000_000]
    amounts += random.Random(1).sample(range(6_000_000), 2000)
    events = [Event(T0, a, "PAY", "u", "", "", "", "") for a in amounts]
    assert near_limits(events) == sum(1 for e in events if near_limit(e.amount_fen)) > 10


def test_rules_are_compiled_once_per_rule_set_and_a_reload_compiles_its_own():
    rs = load(DEFAULT_PATH)
    pay = plan(rs, "PAY")
    assert plan(rs, "PAY") is pay
    assert len(pay) == sum(1 for rule in rs.rules if rule.applies("PAY"))
    assert len(plan(rs, "REFUND")) == sum(1 for rule in rs.rules if rule.applies("REFUND"))
    again = load(DEFAULT_PATH)
    assert plan(again, "PAY") is not pay and not again.plans.keys() - {"PAY"}


ODD = ["", "plain", 'quo"te', "back\\slash", "控制\u0001\n\t", "</script>", "é\u2028"]


def test_a_decision_s_stored_inputs_and_reasons_read_back_as_what_it_saw():
    """Format 2 keeps what the row's columns do not; read back with the row, the inputs are
    the movement, its context, the counters' event, the exact features and the probability."""
    r = random.Random(4)
    for _ in range(300):
        m = Movement(
            kind=r.choice(["PAY", "TRANSFER"]),
            movement_id="x",
            party_id=r.choice(ODD),
            amount_fen=r.randrange(10**9),
            payee_id=r.choice(ODD),
            merchant_id=r.choice(ODD),
            funding=r.choice(ODD),
            category=r.choice(ODD),
            card_id=r.choice(ODD),
        )
        rc = RequestContext(device_id=r.choice(ODD), ip=r.choice(ODD), user_agent=r.choice(ODD))
        e = event_of(m, rc, T0 + r.randrange(10**6))
        reasons = tuple(Reason(r.choice(ODD), r.randrange(-5, 100), r.choice(ODD)) for _ in "ab")
        x = tuple(r.choice([0.0, -0.0, 1.0, 1e9, math.inf, r.uniform(-3, 3)]) for _ in range(37))
        p = r.choice([0.0, 1.0, r.random(), math.nan])
        d = Decision(PASS, 1, reasons, e, x, p)
        context = {k: v for k, v in asdict(rc).items() if v}
        row = {
            "movement_kind": m.kind,
            "amount_fen": m.amount_fen,
            "party_id": m.party_id,
            "payee_id": m.payee_id,
            "created_at_ms": e.at_ms,
            "inputs": inputs_json(m, json.dumps(context), d),
        }
        read = inputs(row)
        assert read.pop("model_p") == round(p, 4) or math.isnan(p)
        assert read == {
            "movement": {
                "kind": m.kind,
                "amount_fen": m.amount_fen,
                "payee_id": m.payee_id,
                "merchant_id": m.merchant_id,
                "funding": m.funding,
                "category": m.category,
                "card_id": m.card_id,
            },
            "context": context,
            "event": e.as_list(),
            "features": list(x),
        }
        assert stored_event(row) == e
        assert json.loads(reasons_json(reasons)) == [r.as_dict() for r in reasons]
    assert reasons_json(()) == "[]"


def test_inputs_stored_whole_before_format_2_read_as_they_were():
    e = Event(T0, 12_34, "PAY", "u1", "m1", "d1", "1.1.1.1", "m1")
    old = {
        "movement": {"kind": "PAY", "amount_fen": 12_34, "payee_id": "m1", "merchant_id": "m1"},
        "context": {"device_id": "d1", "ip": "1.1.1.1"},
        "event": e.as_list(),
        "features": [0.5, 1.0],
        "model_p": 0.01,
    }
    row = {"inputs": json.dumps(old)}
    assert inputs(row) == old and stored_event(row) == e


def test_the_compiled_model_scores_exactly_as_walking_its_trees():
    shipped = risk_model.load()
    assert shipped.trees  # the trained trees, not "no model"
    r = random.Random(6)
    for _ in range(500):
        x = [r.choice([0.0, 1.0, r.uniform(-1, 12)]) for _ in shipped.names]
        assert shipped.raw(x) == shipped.slow_raw(x)
    regression = risk_model.Model("lr", shipped.names, tuple(r.uniform(-1, 1) for _ in x), 0.5)
    assert regression.raw(x) == regression.slow_raw(x)


def test_a_busy_key_s_running_distinct_tally_equals_a_scan_through_adds_takebacks_and_trims():
    """A key's newest events are tallied as they come (``EventLog.tail``); after every step of
    commits, a batch's staged events, a failed command taken back, a batch that never committed
    and old events forgotten, each window's count, sum and distinct values equal a scan's (a
    trim that drops a log's head rebases its running sums too)."""
    r = random.Random(11)
    counters = Counters(horizon_ms=400_000)  # short: the logs forget and trim as they go
    committed: list[Event] = []
    at = T0
    for step in range(400):
        if step in (150, 300):
            at += 1_000_000  # a quiet spell: the logs forget all but the newest and trim
        pending = Pending(counters)  # takes back what an unfinished batch left
        batch: list[Event] = []
        for _ in range(r.randrange(1, 12)):
            at += r.choice([0, 1, 500, 1000])
            batch.append(
                Event(
                    at,
                    r.choice([100, 450_000, 499_999, 500_000, 1_900_000]),
                    "PAY",
                    f"u{r.randrange(3 if step % 50 < 25 else 90)}",  # few, then many users
                    r.choice(["m1", "m1", "m2", f"p{r.randrange(70)}"]),
                    r.choice(["d1", "d1", f"d{r.randrange(80)}"]),
                    "1.1.1.1",
                    "m1",
                )
            )
            pending.add(batch[-1])
        mark = r.randrange(len(batch) + 1)
        pending.rollback_to(mark)  # the later commands failed
        if r.random() < 0.1:
            continue  # this batch never commits: the next one takes its events back
        pending.settle(saved=False)
        committed += batch[:mark]
        look = Look(counters, at)
        for dimension, key in (("merchant", "m1"), ("ip", "1.1.1.1"), ("device", "d1")):
            for window_ms in (60_000, 400_000):
                w = look(dimension, key, window_ms)
                live = [e for e in committed if e.at_ms > at - 400_000]
                count, sum_fen, newest = _scan(live, dimension, key, at, window_ms)
                assert (w.count, w.sum_fen) == (count, sum_fen), (step, dimension, window_ms)
                for of in ("user", "payee", "device"):
                    expected = {e.key(of) for e in newest}
                    assert set(w.seen(of)) == w.values(of) == expected, (step, dimension, of)
                    assert w.distinct(of, "u1") == len(expected - {"u1"})
                assert w.near_limits() == near_limits(newest)  # kept through trims too
        if step % 40 == 39:
            counters.prune(at)
    log = counters.log("merchant", "m1")
    assert log is not None and log.tails  # the busy key kept its tallies
