"""Every rule kind on the pure decision (no database): thresholds, velocity (count, sum,
distinct) at the window's edges per user, device, IP, payee and merchant, new device and IP,
location jumps, the three lists, merchant categories, the model, and the rule file's checks."""

from __future__ import annotations

import pytest
import yaml

from qianbao.money_movement.context import RequestContext, decode
from qianbao.money_movement.ports import Movement
from qianbao.risk.counters import Counters, Pending
from qianbao.risk.decide import CHALLENGE, PASS, REJECT, Lists, Profile, State, decide
from qianbao.risk.errors import RulesInvalid
from qianbao.risk.features import NAMES
from qianbao.risk.model import NO_MODEL, Model
from qianbao.risk.rules import parse

T0 = 1_800_000_000_000
RC = RequestContext(device_id="d1", ip="1.1.1.1")


def rules(*items: str, challenge_at: int = 50, reject_at: int = 100) -> object:
    text = f"version: v\noutcome: {{challenge_at: {challenge_at}, reject_at: {reject_at}}}\n"
    text += "rules:\n" + "".join(f"  - {item}\n" for item in items)
    return parse(yaml.safe_load(text))


def velocity(key: str, window_s: int, measure: str, above: int, of: str = "") -> str:
    extra = f", of: {of}" if of else ""
    return (
        f"{{id: v, kind: velocity, key: {key}, window_s: {window_s}, measure: {measure},"
        f" above: {above}, score: 60{extra}}}"
    )


def mv(amount_fen: int = 100, kind: str = "PAY", **kw: str) -> Movement:
    fields = {"party_id": "u1", "payee_id": "m1", "merchant_id": "m1", "funding": "BALANCE"}
    fields.update(kw)
    return Movement(kind=kind, movement_id="x", amount_fen=amount_fen, **fields)  # type: ignore[arg-type]


class World:
    """A unit's state with committed movements (as the batch's after_commit adds them)."""

    def __init__(self, rs, lists: Lists | None = None, model: Model = NO_MODEL) -> None:
        self.rs, self.lists, self.model = rs, lists or Lists(), model
        self.state = State(Counters(rs.horizon_ms))

    def decide(self, m: Movement, at_ms: int, rc: RequestContext = RC, pending=None):
        return decide(self.rs, self.model, self.state, pending, self.lists, m, rc, at_ms)

    def commit(self, m: Movement, at_ms: int, rc: RequestContext = RC) -> str:
        d = self.decide(m, at_ms, rc)
        self.state.counters.add(d.event)
        profile = self.state.profiles.setdefault(m.party_id, Profile())
        profile.devices.add(rc.device_id)
        profile.ips.add(rc.ip)
        return d.outcome


def test_threshold_fires_at_its_amount_and_not_below():
    w = World(rules("{id: big, kind: threshold, at_least_fen: 1000, score: 50}"))
    assert w.decide(mv(999), T0).outcome == PASS
    d = w.decide(mv(1000), T0)
    assert d.outcome == CHALLENGE and [r.rule for r in d.reasons] == ["big"]


@pytest.mark.parametrize("key", ["user", "device", "ip", "payee", "merchant"])
def test_velocity_count_per_key_and_an_event_exactly_a_window_old_has_left(key):
    w = World(rules(velocity(key, 60, "count", 2)))
    w.commit(mv(), T0)
    w.commit(mv(), T0 + 1_000)
    assert w.decide(mv(), T0 + 59_999).outcome == CHALLENGE  # 3 in the window
    assert w.decide(mv(), T0 + 60_000).outcome == PASS  # the first is exactly 60 s old: out


def test_velocity_sum_includes_this_movement():
    w = World(rules(velocity("user", 3600, "sum", 1000)))
    w.commit(mv(600), T0)
    assert w.decide(mv(400), T0 + 1).outcome == PASS  # 1000 is not above 1000
    assert w.decide(mv(401), T0 + 1).outcome == CHALLENGE
    assert w.decide(mv(401), T0 + 3_600_000).outcome == PASS


def test_velocity_distinct_counts_other_dimensions_and_sees_the_batch_pending():
    w = World(rules(velocity("device", 86400, "distinct", 2, of="user")))
    w.commit(mv(party_id="u1"), T0)
    w.commit(mv(party_id="u2"), T0 + 1)
    assert w.decide(mv(party_id="u2"), T0 + 2).outcome == PASS  # still 2 users
    pending = Pending(w.state.counters)  # the batch's events, staged in the unit's counters
    pending.add(w.decide(mv(party_id="u3"), T0 + 3).event)  # same batch, not committed yet
    assert w.decide(mv(party_id="u4"), T0 + 4, pending=pending).outcome == CHALLENGE
    pending.rollback_to(0)  # the u3 command failed: it no longer counts
    assert w.decide(mv(party_id="u2"), T0 + 4, pending=pending).outcome == PASS


def test_new_device_and_new_ip_need_history_and_an_amount():
    w = World(rules("{id: nd, kind: new_device, min_amount_fen: 500, score: 50}",
                    "{id: ni, kind: new_ip, min_amount_fen: 0, score: 10}"))  # fmt: skip
    fresh = RequestContext(device_id="d9", ip="9.9.9.9")
    assert w.decide(mv(1000), T0, fresh).outcome == PASS  # a first-ever device is not "new"
    w.commit(mv(), T0)
    assert w.decide(mv(499), T0 + 1, fresh).score == 10
    d = w.decide(mv(500), T0 + 1, fresh)
    assert d.outcome == CHALLENGE and {r.rule for r in d.reasons} == {"nd", "ni"}
    assert w.decide(mv(500), T0 + 1).outcome == PASS  # the known device


def test_location_jump_is_distance_over_time():
    w = World(rules("{id: j, kind: location_jump, max_kmh: 900, min_km: 100, score: 50}"))
    shanghai = RequestContext(device_id="d1", ip="1.1.1.1", location="31.23,121.47")
    urumqi = RequestContext(device_id="d1", ip="1.1.1.1", location="43.83,87.62")  # ~3,270 km
    w.commit(mv(), T0, shanghai)
    w.state.profiles["u1"].last_place = (31.23, 121.47, T0)
    assert w.decide(mv(), T0 + 3_600_000, urumqi).outcome == CHALLENGE  # 3,270 km/h
    assert w.decide(mv(), T0 + 5 * 3_600_000, urumqi).outcome == PASS  # 654 km/h: a flight
    assert w.decide(mv(), T0 + 60_000, RequestContext(location="nonsense")).outcome == PASS


def test_lists_block_rejects_watch_adds_allow_passes_unless_blocked_or_frozen():
    lists = Lists(block={("ip", "6.6.6.6")}, watch={("merchant", "m1")}, allow={("user", "vip")})
    w = World(rules("{id: b, kind: list, list: block, score: 1000}",
                    "{id: w, kind: list, list: watch, score: 20}",
                    "{id: a, kind: list, list: allow, score: 0}",
                    "{id: big, kind: threshold, at_least_fen: 10, score: 99}"), lists)  # fmt: skip
    assert w.decide(mv(1), T0, RequestContext(ip="6.6.6.6")).outcome == REJECT
    assert w.decide(mv(1), T0).score == 20  # watched merchant
    assert w.decide(mv(5000, party_id="vip"), T0).outcome == PASS  # allowed despite the score
    lists.frozen.add(("user", "vip"))
    d = w.decide(mv(1, party_id="vip"), T0)
    assert d.outcome == REJECT and d.frozen == "user:vip"


def test_category_mismatch_huabei_at_a_cash_like_merchant_and_medical_elsewhere():
    lists = Lists(categories={"m1": "cash_like", "m2": "grocery"})
    rule = "{id: c, kind: category_mismatch, categories: [cash_like], funding: [HUABEI], score: 50}"
    w = World(rules(rule), lists)
    assert w.decide(mv(funding="HUABEI"), T0).outcome == CHALLENGE
    assert w.decide(mv(funding="BALANCE"), T0).outcome == PASS
    assert (
        w.decide(mv(merchant_id="m2", payee_id="m2", category="medical"), T0).outcome == CHALLENGE
    )


def test_the_model_rule_fires_at_its_probability():
    weights = tuple(1.0 if n == "log_amount" else 0.0 for n in NAMES)
    model = Model("m-test", NAMES, weights, -5.0)  # p > 0.5 once log1p(yuan) > 5 (about 147 yuan)
    w = World(rules("{id: m, kind: model, at_least: 0.5, score: 50}"), model=model)
    assert w.decide(mv(100_00), T0).outcome == PASS
    d = w.decide(mv(200_00), T0)
    assert d.outcome == CHALLENGE and d.model_p > 0.5


def test_rules_apply_only_to_their_kinds_and_refunds_above_the_line_need_approval():
    rs = parse(yaml.safe_load(
        "version: v\noutcome: {challenge_at: 50, reject_at: 100}\nrefund_approval_fen: 1000\n"
        "rules:\n  - {id: big, kind: threshold, at_least_fen: 1, score: 60, kinds: [TRANSFER]}\n"
    ))  # fmt: skip
    w = World(rs)
    assert w.decide(mv(5), T0).outcome == PASS
    assert w.decide(mv(5, kind="TRANSFER"), T0).outcome == CHALLENGE
    d = w.decide(mv(1000, kind="REFUND"), T0)
    assert d.outcome == CHALLENGE and d.reasons[-1].rule == "refund_approval"


HEAD = "version: v\noutcome: {challenge_at: 5, reject_at: 10}\n"
T1 = "{id: a, kind: threshold, at_least_fen: 1, score: 1}"


@pytest.mark.parametrize(
    "bad",
    [
        "version: v\noutcome: {challenge_at: 50, reject_at: 10}\n",
        HEAD + "rules: [{id: a, kind: nope, score: 1}]",
        HEAD + "rules: [{id: a, kind: velocity, key: moon, window_s: 1, above: 1, score: 1}]",
        HEAD + "rules: [{id: a, kind: velocity, key: user, window_s: 0, above: 1, score: 1}]",
        HEAD + "rules: [{id: a, kind: threshold, score: 1}]",
        HEAD + f"rules: [{T1}, {T1}]",
        "outcome: {challenge_at: 5, reject_at: 10}\n",
        "- a list",
    ],
)
def test_a_bad_rule_file_is_refused_with_the_reason(bad):
    with pytest.raises(RulesInvalid):
        parse(yaml.safe_load(bad))


def test_the_shipped_rule_file_and_context_decoding():
    from qianbao.risk.rules import DEFAULT_PATH, load

    rs = load(DEFAULT_PATH)
    assert rs.rules and rs.challenge_at < rs.reject_at
    assert decode("not json") == RequestContext() == decode("")
    assert decode(RC.encode()) == RC
