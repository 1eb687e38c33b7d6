"""The relation features of a transfer to its payee (what a scam's grooming transfers show), the
simulator's scam campaigns and their legitimate look-alikes, the payee's first-seen time kept
across a restart, and the training's two passes and typology weights, on small data."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import timedelta

from qianbao.money_movement.context import RequestContext, use
from qianbao.money_movement.ports import Movement
from qianbao.payments import service as payments
from qianbao.platform import ids
from qianbao.platform.clock import clock
from qianbao.risk import evaluate as ev
from qianbao.risk import payees, simulate
from qianbao.risk import rules as risk_rules
from qianbao.risk import service as risk
from qianbao.risk.counters import Counters
from qianbao.risk.decide import Profile, State, decide, remember
from qianbao.risk.features import DAY_MS, NAMES, PAYEE_WINDOW_MS
from qianbao.risk.model import NO_MODEL
from tests.factories import PAY_PASSWORD, new_user
from tests.risk.conftest import write_rules
from tests.risk.test_rules import World, rules

T0 = 1_800_000_000_000
F = {name: i for i, name in enumerate(NAMES)}
BIG = "{id: big, kind: threshold, at_least_fen: 10000000, score: 60}"


def transfer(party: str, payee: str, amount_fen: int) -> Movement:
    return Movement(
        kind="TRANSFER",
        movement_id="x",
        party_id=party,
        amount_fen=amount_fen,
        payee_id=payee,
        funding="BALANCE",
    )


def test_a_transfer_to_a_payee_strangers_started_paying_this_week():
    w = World(rules(BIG))
    for i, payer in enumerate(("a", "b", "c")):  # three payers met the payee in the window
        at = T0 - (3 - i) * DAY_MS
        w.commit(transfer(payer, "scam", 20_000), at)
        remember(w.state.profiles.setdefault(payer, Profile()), "PAYEE", "scam", at)
    w.commit(transfer("c", "scam", 40_000), T0 - DAY_MS // 2)  # c again
    old = T0 - 30 * DAY_MS  # "d" has paid them for a month: not a new payer
    remember(w.state.profiles.setdefault("d", Profile()), "PAYEE", "scam", old)
    w.commit(transfer("d", "scam", 5_000), T0 - DAY_MS)
    w.commit(transfer("u1", "scam", 10_000), T0 - 2 * DAY_MS)  # the payer's own earlier one
    remember(w.state.profiles.setdefault("u1", Profile()), "PAYEE", "scam", T0 - 2 * DAY_MS)
    x = w.decide(transfer("u1", "scam", 30_000), T0).features
    assert x[F["payee_known_days"]] == 2.0
    assert x[F["pair_count_7d"]] == 1.0 and round(x[F["pair_sum_7d"]], 3) == 4.615  # 100 yuan
    assert round(x[F["payee_payers_7d"]], 4) == 1.6094  # log1p(4): a, b, c, d
    assert round(x[F["payee_new_payers_7d"]], 4) == 1.3863  # log1p(3): a, b, c
    assert round(x[F["payee_new_repeat_payers_7d"]], 4) == 0.6931  # log1p(1): c paid twice
    assert x[F["payee_seen_days"]] == 3.0 and x[F["small_round"]] == 1.0
    assert x[F["payee_age_days"]] == -1.0  # "scam" is no id of ours: its age is unknown
    later = w.decide(transfer("u1", "scam", 30_001), T0 + PAYEE_WINDOW_MS).features
    assert later[F["pair_count_7d"]] == 0.0  # everything has left the window
    assert later[F["payee_new_payers_7d"]] == 0.0 and later[F["small_round"]] == 0.0
    pay = Movement("PAY", "x", "u1", 30_000, payee_id="scam", merchant_id="scam")
    assert not any(w.decide(pay, T0).features[F["payee_known_days"] :])  # transfers only


def test_the_payee_account_age_comes_from_its_id():
    opened = T0 - 3 * DAY_MS
    young = f"{opened * 1000 + 123:016d}07"  # as platform/ids.py makes them
    assert ids.created_ms(young) == opened and ids.created_ms("m1") is None
    w = World(rules(BIG))
    assert w.decide(transfer("u1", young, 1_000), T0).features[F["payee_age_days"]] == 3.0
    old = f"{(T0 - 900 * DAY_MS) * 1000:016d}07"
    assert w.decide(transfer("u1", old, 1_000), T0).features[F["payee_age_days"]] == 400.0
    assert ids.created_ms(ids.new_id(7)) is not None


def test_the_counters_keep_the_payee_window():
    assert risk_rules.load(risk_rules.DEFAULT_PATH).horizon_ms >= PAYEE_WINDOW_MS
    assert rules(BIG).horizon_ms == PAYEE_WINDOW_MS  # no longer rule: the features' window


def test_scam_campaigns_groom_several_victims_and_ordinary_life_pays_new_payees_too():
    world, events = simulate.generate(3, 6, users=400, frauds_per_day=4)
    victims: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.label == simulate.GROOMING:
            victims[e.movement.payee_id].add(e.movement.party_id)
    assert max(len(v) for v in victims.values()) >= 2  # one scammer, several victims
    groomed = [e.movement.amount_fen for e in events if e.label == simulate.GROOMING]
    assert len(set(groomed)) > len(groomed) // 3  # varied sums, not one tell-tale amount
    known = {(u, v) for u, kind, v, _ in world.history if kind == "PAYEE"}
    legit = [e.movement for e in events if not e.label and e.movement.kind == "TRANSFER"]
    small_new = [m for m in legit if (m.party_id, m.payee_id) not in known]
    assert len(small_new) > len(legit) // 10  # strangers are paid in ordinary life
    payers = Counter(m.payee_id for m in legit if m.payee_id in world.sellers)
    assert payers and max(payers.values()) >= 5  # and sellers are paid by many


def test_the_training_rows_are_replayed_as_the_live_path_would_see_them():
    rs = rules(BIG)
    rows = ev.simulated(rs, 4, 3, users=200, units=(1, 4))
    half = len(rows) // 2  # one layout after the other, each with its held-out tail
    assert [s.label for s in rows[:half]] == [s.label for s in rows[half:]]
    assert rows[half - 1].held and not rows[half].held
    assert abs(sum(s.held for s in rows) - 0.2 * len(rows)) <= 2
    labels = Counter(s.label for s in rows)
    assert labels[simulate.GROOMING] and labels[""] > 10 * labels[simulate.GROOMING]
    weights = ev.typology_weights(rows)
    per_typology: Counter[str] = Counter()
    for s, w in zip(rows, weights, strict=True):
        per_typology[s.label] += w
    fraud = [v for k, v in per_typology.items() if k]
    assert max(fraud) - min(fraud) < 1e-6  # each typology weighs the same
    assert per_typology[""] == labels[""]


def test_the_payee_first_seen_survives_a_restart(tmp_path):
    from tests.conftest import make_platform

    extra = {"risk": {"rules_path": str(write_rules(tmp_path / "rules.yaml"))}}
    clock.set(clock.now())
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        u, v = new_user(p, balance_fen=1_000_00), new_user(p)
        first = clock.now_ms()
        home = RequestContext(device_id="phone-1", ip="10.0.0.1")
        with use(home):
            payments.transfer(p, u, v, 5_00, "g1", PAY_PASSWORD)
        clock.set(clock.now() + timedelta(days=2))
        with use(home):
            payments.transfer(p, u, v, 5_00, "g2", PAY_PASSWORD)
    finally:
        p.close()
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        with use(home):
            payments.transfer(p, u, v, 5_00, "g3", PAY_PASSWORD)  # loads the unit's state
        state = risk.engine(p).units[p.unit_of(u)].state
        assert state.profiles[u].payees[v] == first
        d = decide(
            risk.engine(p).rules.get(),
            NO_MODEL,
            state,
            None,
            risk.engine(p).lists(),
            transfer(u, v, 5_00),
            home,
            clock.now_ms(),
        )
        assert d.features[F["payee_known_days"]] == 2.0
    finally:
        clock.use_real_time()
        p.close()


def test_a_fresh_state_knows_nothing():
    state = State(Counters())
    assert state.first_paid("u", "v") is None
    remember(state.profiles.setdefault("u", Profile()), "PAYEE", "v", 7)
    remember(state.profiles["u"], "PAYEE", "v", 9)  # the first time stays
    assert state.first_paid("u", "v") == 7


def test_with_several_units_a_payer_sees_the_other_units_payers_a_little_late():
    world = simulate.World(5, 10, 2)
    world.history = []
    day = simulate.T0_MS
    payee = world.fresh_id(day, 3)
    # payers in buckets 00, 01 and 02: with 2 units, 00 and 02 share one, 01 is in the other
    payers = [f"{(day - 900 * DAY_MS) * 1000 + i:016d}{i:02d}" for i in range(3)]

    def spaced(gap_ms: int) -> list[simulate.SimEvent]:
        return [
            simulate.SimEvent(
                day + i * gap_ms, transfer(p, payee, 10_000), RequestContext("d", "ip")
            )
            for i, p in enumerate(payers)
        ]

    rs = rules(BIG)
    minutes = spaced(3 * payees.PUBLISH_EVERY_MS)  # time for the messages to travel
    alone = ev.replay(rs, NO_MODEL, world, minutes)
    split = ev.replay(rs, NO_MODEL, world, minutes, units=2)
    assert [s.features[F["payee_payers_7d"]] for s in alone] == [0.0, *map(math.log1p, (1, 2))]
    payee_side = [F["payee_fanin_24h"], *range(F["payee_known_days"], len(NAMES))]
    assert [[s.features[i] for i in payee_side] for s in split] == [
        [s.features[i] for i in payee_side] for s in alone
    ]  # (devices and IPs stay in their payer's unit)
    quick = spaced(1_000)  # before any message arrived
    seconds = ev.replay(rs, NO_MODEL, world, quick, units=2)
    assert [s.features[F["payee_payers_7d"]] for s in seconds] == [0.0, 0.0, math.log1p(1)]
    ages = [s.features[F["payee_age_days"]] for s in ev.replay(rs, NO_MODEL, world, quick)]
    assert [s.features[F["payee_age_days"]] for s in seconds] == ages  # in the id: everywhere
