"""The pure decision: a movement, the unit's state and the rule set in, an outcome with its
reasons out. No I/O: the engine (``engine.py``) feeds it and stores what it says, and the
simulator's evaluation runs this same function over a generated month."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter

from qianbao.money_movement.context import RequestContext
from qianbao.money_movement.ports import Movement
from qianbao.risk import features
from qianbao.risk.counters import Counters, Event, Look, Pending
from qianbao.risk.model import Model
from qianbao.risk.rules import Rule, RuleSet, km_between, parse_location

PASS, CHALLENGE, REJECT = "PASS", "CHALLENGE", "REJECT"
AML_KINDS = frozenset({"WITHDRAW", "TRANSFER"})  # payouts: screened against the watch list
AML_NAME_SCORE = 40  # a name-only hit (names collide): an ID-number hit rejects


@dataclass(frozen=True, slots=True)
class Reason:
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


@dataclass
class State:
    """One unit's memory: the counters and the users' profiles."""

    counters: Counters
    profiles: dict[str, Profile] = field(default_factory=dict)

    def profile(self, user_id: str) -> Profile:
        return self.profiles.get(user_id) or Profile()

    def first_paid(self, user_id: str, payee_id: str) -> int | None:
        """When ``user_id`` first paid ``payee_id`` (None: never, or not one of this unit's)."""
        profile = self.profiles.get(user_id)
        return profile.payees.get(payee_id) if profile is not None else None


@dataclass(frozen=True, slots=True)
class Decision:
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


def parties(m: Movement, rc: RequestContext) -> Iterator[tuple[str, str]]:
    """The movement's (list kind, value) pairs a list or a freeze may name."""
    yield ("user", m.party_id)
    if m.kind != "REFUND" and m.payee_id and not m.merchant_id:
        yield ("user", m.payee_id)
    for kind, value in (
        ("merchant", m.merchant_id),
        ("card", m.card_id),
        ("device", rc.device_id),
        ("ip", rc.ip),
    ):
        if value:
            yield (kind, value)


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
    mine = list(parties(m, rc))
    frozen = next((f"{k}:{v}" for k, v in mine if (k, v) in lists.frozen), "")
    profile = state.profile(m.party_id)
    known = features.Known(
        has_history=bool(profile.devices or profile.ips),  # a client history to compare with
        device_known=rc.device_id in profile.devices,
        ip_known=rc.ip in profile.ips,
        payee_known=m.payee_id in profile.payees,
        payee_first_ms=profile.payees.get(m.payee_id),
    )
    look = Look(state.counters, pending, now_ms)
    category = lists.categories.get(m.merchant_id, "")
    x = features.compute(look, e, m.funding, known, category, state.first_paid)
    p = model.probability(x)
    reasons = [
        r
        for rule in rs.rules
        if not rule.kinds or m.kind in rule.kinds
        for r in [_fire(rule, look, state, lists, m, rc, e, mine, known, p, model)]
        if r is not None
    ]
    aml = lists.aml.get(m.party_id, "") if m.kind in AML_KINDS else ""
    if aml:
        reasons.append(
            Reason(
                "aml_watchlist" if aml == "id" else "aml_name",
                0 if aml == "id" else AML_NAME_SCORE,
                f"watch list: {aml}",
            )
        )
    score = sum(r.score for r in reasons)
    if frozen:
        return Decision(
            REJECT, score, (Reason("frozen", 0, frozen), *reasons), e, tuple(x), p, frozen
        )
    blocked = any(r.rule.startswith("list:block") for r in reasons)
    allowed = any(r.rule.startswith("list:allow") for r in reasons)
    outcome = _outcome(rs, score, blocked=blocked or aml == "id", allowed=allowed)
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


def _fire(
    rule: Rule,
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
) -> Reason | None:
    kind = rule.kind
    if kind == "threshold":
        limit = rule.params["at_least_fen"]
        return _hit(rule, m.amount_fen >= limit, f"amount {m.amount_fen} >= {limit}")
    if kind == "velocity":
        return _velocity(rule, look, e)
    if kind == "new_device":
        new = bool(rc.device_id) and known.has_history and not known.device_known
        return _hit(rule, new and m.amount_fen >= rule.params["min_amount_fen"], "new device")
    if kind == "new_ip":
        new = bool(rc.ip) and known.has_history and not known.ip_known
        return _hit(rule, new and m.amount_fen >= rule.params["min_amount_fen"], "new IP")
    if kind == "location_jump":
        return _jump(rule, state, m, rc, e)
    if kind == "list":
        name, kinds = rule.params["list"], rule.params["of"]
        entries = lists.named(name)
        hits = [f"{k}:{v}" for k, v in mine if k in kinds and (k, v) in entries]
        reason = _hit(rule, bool(hits), ", ".join(hits))
        return (
            None
            if reason is None
            else Reason(f"list:{name}:{rule.id}", reason.score, reason.detail)
        )
    if kind == "category_mismatch":
        category = lists.categories.get(m.merchant_id, "")
        cash_like = category in rule.params["categories"] and m.funding in rule.params["funding"]
        medical = m.category == "medical" and bool(category) and category != "medical"
        return _hit(rule, cash_like or medical, f"{m.funding} {m.category} at {category}")
    if kind == "model":
        if rule.params["clients_only"] and not rc.ip:
            return None
        at_least = rule.params["at_least"]
        threshold = model.operating_point if at_least == "operating_point" else at_least
        return _hit(rule, p >= threshold, f"model p={p:.3f}")
    return None


def _hit(rule: Rule, fired: bool, detail: str) -> Reason | None:
    return Reason(rule.id, rule.score, detail) if fired else None


def _velocity(rule: Rule, look: Look, e: Event) -> Reason | None:
    key, measure = rule.params["key"], rule.params["measure"]
    w = look(key, e.key(key), rule.params["window_s"] * 1000)
    if measure == "count":
        value = w.count + 1
    elif measure == "sum":
        value = w.sum_fen + e.amount_fen
    else:
        of = rule.params["of"]
        get = attrgetter(of)
        value = len({get(x) for x in (*(w.events or ()), e)} - {""})
    limit = rule.params["above"]
    return _hit(rule, value > limit, f"{measure} per {key} in {rule.p('window_s')} s = {value}")


def _jump(rule: Rule, state: State, m: Movement, rc: RequestContext, e: Event) -> Reason | None:
    here = parse_location(rc.location)
    last = state.profile(m.party_id).last_place
    if here is None or last is None:
        return None
    km = km_between(here, (last[0], last[1]))
    hours = max(e.at_ms - last[2], 60_000) / 3_600_000
    fired = km >= rule.params["min_km"] and km / hours > rule.params["max_kmh"]
    return _hit(rule, fired, f"{km:.0f} km in {hours * 60:.0f} min")
