"""The pure decision: a movement, the unit's state and the rule set in, an outcome with its
reasons out. No I/O: the engine (``engine.py``) feeds it and stores what it says, and the
simulator's evaluation runs this same function over a generated month."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from qianbao.money_movement.context import RequestContext
from qianbao.money_movement.ports import Movement
from qianbao.risk import features
from qianbao.risk.counters import GET, Counters, Event, Look, Pending
from qianbao.risk.model import Model
from qianbao.risk.rules import Rule, RuleSet, km_between, parse_location

PASS, CHALLENGE, REJECT = "PASS", "CHALLENGE", "REJECT"
AML_KINDS = frozenset({"WITHDRAW", "TRANSFER"})  # payouts: screened against the watch list
AML_NAME_SCORE = 40  # a name-only hit (names collide): an ID-number hit rejects


class Reason(NamedTuple):
    """Why a rule fired (a tuple: several are made with every decision)."""

    rule: str
    score: int
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "score": self.score, "detail": self.detail}


@dataclass
class Lists:
    """Operators' lists and freezes, as sets of (kind, value) (kind: user, device, ...)."""

    block: set[tuple[str, str]] = field(default_factory=set)
    watch: set[tuple[str, str]] = field(default_factory=set)
    allow: set[tuple[str, str]] = field(default_factory=set)
    frozen: set[tuple[str, str]] = field(default_factory=set)  # (user|card|merchant, id)
    categories: dict[str, str] = field(default_factory=dict)  # merchant id -> category
    aml: dict[str, str] = field(default_factory=dict)  # user id -> "id" | "name" (watch list)

    def named(self, name: str) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = getattr(self, name)
        return found


@dataclass
class Profile:
    """What one user is known by (devices, IPs) and where they last were."""

    devices: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    payees: dict[str, int] = field(default_factory=dict)  # whom they paid before -> first ms
    last_place: tuple[float, float, int] | None = None  # lat, lon, at ms


KNOWN_KINDS = {"DEVICE": "devices", "IP": "ips", "PAYEE": "payees"}


def remember(profile: Profile, kind: str, value: str, first_seen_ms: int = 0) -> None:
    """``kind`` is DEVICE, IP or PAYEE (the stored ``risk_known`` rows)."""
    if kind == "PAYEE":
        profile.payees.setdefault(value, first_seen_ms)
        return
    known: set[str] = getattr(profile, KNOWN_KINDS[kind])
    known.add(value)


def remember_row(
    profiles: dict[str, Profile], user_id: str, kind: str, value: str, first_seen_ms: int
) -> None:
    """A ``risk_known`` row into the profiles. A ``PAYER`` row is kept by a payee of this unit
    for a payer of another unit (``risk.inbound``): the row lives with the payee, where its
    key routes (a bucket move takes it along), and the payer's profile here remembers the
    payee."""
    if kind == "PAYER":
        user_id, kind, value = value, "PAYEE", user_id
    remember(profiles.setdefault(user_id, Profile()), kind, value, first_seen_ms)


@dataclass
class State:
    """One unit's memory: the counters, the users' profiles, and the other units' payees as
    their home units see them (``risk/payees.py``)."""

    counters: Counters
    profiles: dict[str, Profile] = field(default_factory=dict)
    views: dict[str, features.PayeeView] = field(default_factory=dict)

    def profile(self, user_id: str) -> Profile:
        return self.profiles.get(user_id) or Profile()

    def first_paid(self, user_id: str, payee_id: str) -> int | None:
        """When ``user_id`` first paid ``payee_id`` (None: never, or not one of this unit's)."""
        profile = self.profiles.get(user_id)
        return profile.payees.get(payee_id) if profile is not None else None


class Decision(NamedTuple):
    outcome: str
    score: int
    reasons: tuple[Reason, ...]
    event: Event
    features: tuple[float, ...]
    model_p: float
    frozen: str = ""  # which party is frozen, when one is


def event_of(m: Movement, rc: RequestContext, now_ms: int) -> Event:
    return Event(
        now_ms, m.amount_fen, m.kind, m.party_id, m.payee_id, rc.device_id, rc.ip, m.merchant_id
    )


def parties(m: Movement, rc: RequestContext) -> list[tuple[str, str]]:
    """The movement's (list kind, value) pairs a list or a freeze may name."""
    mine = [("user", m.party_id)]
    if m.kind != "REFUND" and m.payee_id and not m.merchant_id:
        mine.append(("user", m.payee_id))
    if m.merchant_id:
        mine.append(("merchant", m.merchant_id))
    if m.card_id:
        mine.append(("card", m.card_id))
    if rc.device_id:
        mine.append(("device", rc.device_id))
    if rc.ip:
        mine.append(("ip", rc.ip))
    return mine


def decide(
    rs: RuleSet,
    model: Model,
    state: State,
    pending: Pending | None,
    lists: Lists,
    m: Movement,
    rc: RequestContext,
    now_ms: int,
    *,
    stepped_up: bool = False,
) -> Decision:
    e = event_of(m, rc, now_ms)
    mine = parties(m, rc)
    freezes = lists.frozen
    frozen = next((f"{k}:{v}" for k, v in mine if (k, v) in freezes), "") if freezes else ""
    profile = state.profile(m.party_id)
    known = features.Known(
        has_history=bool(profile.devices or profile.ips),  # a client history to compare with
        device_known=rc.device_id in profile.devices,
        ip_known=rc.ip in profile.ips,
        payee_known=m.payee_id in profile.payees,
        payee_first_ms=profile.payees.get(m.payee_id),
    )
    if pending is not None and pending.counters is not state.counters:
        raise ValueError("a batch's pending events are staged in the counters it decides on")
    look = Look(state.counters, now_ms)
    category = lists.categories.get(m.merchant_id, "")
    view = state.views.get(m.payee_id) if state.views else None
    x = features.compute(look, e, m.funding, known, category, state.first_paid, view)
    p = model.probability(x)
    case = Case(look, state, lists, m, rc, e, mine, known, p, model)
    reasons = [r for fire in plan(rs, m.kind) if (r := fire(case)) is not None]
    aml = lists.aml.get(m.party_id, "") if m.kind in AML_KINDS else ""
    if aml:
        reasons.append(
            Reason(
                "aml_watchlist" if aml == "id" else "aml_name",
                0 if aml == "id" else AML_NAME_SCORE,
                f"watch list: {aml}",
            )
        )
    score, blocked, allowed = 0, aml == "id", False
    for r in reasons:
        score += r.score
        if r.rule[:5] == "list:":
            blocked = blocked or r.rule.startswith("list:block")
            allowed = allowed or r.rule.startswith("list:allow")
    if frozen:
        return Decision(
            REJECT, score, (Reason("frozen", 0, frozen), *reasons), e, tuple(x), p, frozen
        )
    outcome = _outcome(rs, score, blocked=blocked, allowed=allowed)
    if m.kind == "REFUND" and rs.refund_approval_fen and m.amount_fen >= rs.refund_approval_fen:
        reasons.append(Reason("refund_approval", 0, f"refund >= {rs.refund_approval_fen} fen"))
        outcome = REJECT if outcome == REJECT else CHALLENGE
    if stepped_up and outcome == CHALLENGE:
        reasons.append(Reason("step_up", 0, "challenge answered"))
        outcome = PASS
    return Decision(outcome, score, tuple(reasons), e, tuple(x), p)


def _outcome(rs: RuleSet, score: int, *, blocked: bool, allowed: bool) -> str:
    if blocked:
        return REJECT
    if allowed:
        return PASS
    if score >= rs.reject_at:
        return REJECT
    return CHALLENGE if score >= rs.challenge_at else PASS


class Case:
    """One decision's inputs, as the compiled rules read them."""

    __slots__ = ("look", "state", "lists", "m", "rc", "e", "mine", "known", "p", "model")

    def __init__(
        self,
        look: Look,
        state: State,
        lists: Lists,
        m: Movement,
        rc: RequestContext,
        e: Event,
        mine: list[tuple[str, str]],
        known: features.Known,
        p: float,
        model: Model,
    ) -> None:
        self.look, self.state, self.lists, self.m, self.rc = look, state, lists, m, rc
        self.e, self.mine, self.known, self.p, self.model = e, mine, known, p, model


Fire = Callable[[Case], "Reason | None"]


def plan(rs: RuleSet, kind: str) -> tuple[Fire, ...]:
    """The rules that judge movements of ``kind``, in file order, each compiled once per rule
    set (a closure over its checked parameters: nothing is looked up per decision)."""
    fires: tuple[Fire, ...] | None = rs.plans.get(kind)
    if fires is None:
        fires = rs.plans[kind] = tuple(_compile(r) for r in rs.rules if r.applies(kind))
    return fires


def _compile(rule: Rule) -> Fire:
    make = _COMPILERS.get(rule.kind)
    return make(rule) if make is not None else _never


def _never(c: Case) -> Reason | None:
    return None


def _threshold(rule: Rule) -> Fire:
    rule_id, score, limit = rule.id, rule.score, rule.params["at_least_fen"]

    def fire(c: Case) -> Reason | None:
        amount = c.m.amount_fen
        return Reason(rule_id, score, f"amount {amount} >= {limit}") if amount >= limit else None

    return fire


def _velocity(rule: Rule) -> Fire:
    """Count, sum or distinct over the window, this movement included (one closure per
    measure: nothing is chosen per decision)."""
    rule_id, score, params = rule.id, rule.score, rule.params
    key, measure, limit = params["key"], params["measure"], params["above"]
    key_of, window_ms = GET[key], params["window_s"] * 1000
    about = f"{measure} per {key} in {rule.p('window_s')} s = "

    def count(c: Case) -> Reason | None:
        e = c.e
        value = c.look.count(key, key_of(e), window_ms) + 1
        return Reason(rule_id, score, f"{about}{value}") if value > limit else None

    def total(c: Case) -> Reason | None:
        e = c.e
        value = c.look(key, key_of(e), window_ms).sum_fen + e.amount_fen
        return Reason(rule_id, score, f"{about}{value}") if value > limit else None

    of = params.get("of", "")
    of_value = GET[of or key]

    def distinct(c: Case) -> Reason | None:  # with this movement's, "" (none) not counted
        e = c.e
        values, mine = c.look(key, key_of(e), window_ms).seen(of), of_value(e)
        value = len(values) + (bool(mine) and mine not in values) - ("" in values)
        return Reason(rule_id, score, f"{about}{value}") if value > limit else None

    return count if measure == "count" else total if measure == "sum" else distinct


def _new_device(rule: Rule) -> Fire:
    rule_id, score, least = rule.id, rule.score, rule.params["min_amount_fen"]

    def fire(c: Case) -> Reason | None:
        known = c.known
        new = bool(c.rc.device_id) and known.has_history and not known.device_known
        return Reason(rule_id, score, "new device") if new and c.m.amount_fen >= least else None

    return fire


def _new_ip(rule: Rule) -> Fire:
    rule_id, score, least = rule.id, rule.score, rule.params["min_amount_fen"]

    def fire(c: Case) -> Reason | None:
        known = c.known
        new = bool(c.rc.ip) and known.has_history and not known.ip_known
        return Reason(rule_id, score, "new IP") if new and c.m.amount_fen >= least else None

    return fire


def _location_jump(rule: Rule) -> Fire:
    rule_id, score = rule.id, rule.score
    min_km, max_kmh = rule.params["min_km"], rule.params["max_kmh"]

    def fire(c: Case) -> Reason | None:
        here = parse_location(c.rc.location)
        last = c.state.profile(c.m.party_id).last_place if here is not None else None
        if here is None or last is None:
            return None
        km = km_between(here, (last[0], last[1]))
        hours = max(c.e.at_ms - last[2], 60_000) / 3_600_000
        if km >= min_km and km / hours > max_kmh:
            return Reason(rule_id, score, f"{km:.0f} km in {hours * 60:.0f} min")
        return None

    return fire


def _list(rule: Rule) -> Fire:
    name, kinds, score = rule.params["list"], rule.params["of"], rule.score
    rule_id = f"list:{name}:{rule.id}"

    def fire(c: Case) -> Reason | None:
        entries = c.lists.named(name)
        if not entries or entries.isdisjoint(c.mine):  # most decisions: none of them listed
            return None
        hits = [f"{k}:{v}" for k, v in c.mine if k in kinds and (k, v) in entries]
        return Reason(rule_id, score, ", ".join(hits)) if hits else None

    return fire


def _category_mismatch(rule: Rule) -> Fire:
    rule_id, score = rule.id, rule.score
    categories, funding = rule.params["categories"], rule.params["funding"]

    def fire(c: Case) -> Reason | None:
        m = c.m
        category = c.lists.categories.get(m.merchant_id, "")
        cash_like = category in categories and m.funding in funding
        medical = m.category == "medical" and bool(category) and category != "medical"
        if cash_like or medical:
            return Reason(rule_id, score, f"{m.funding} {m.category} at {category}")
        return None

    return fire


def _model(rule: Rule) -> Fire:
    rule_id, score = rule.id, rule.score
    clients_only, at_least = rule.params["clients_only"], rule.params["at_least"]

    def fire(c: Case) -> Reason | None:
        if clients_only and not c.rc.ip:
            return None
        threshold = c.model.operating_point if at_least == "operating_point" else at_least
        p = c.p
        return Reason(rule_id, score, f"model p={p:.3f}") if p >= threshold else None

    return fire


_COMPILERS: dict[str, Callable[[Rule], Fire]] = {
    "threshold": _threshold,
    "velocity": _velocity,
    "new_device": _new_device,
    "new_ip": _new_ip,
    "location_jump": _location_jump,
    "list": _list,
    "category_mismatch": _category_mismatch,
    "model": _model,
}
