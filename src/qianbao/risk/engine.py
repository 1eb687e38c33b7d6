"""The ``RiskCheck`` port: the decision on every movement, inside the party's unit command.

``check`` decides in memory (``decide.py``) from the unit's state, the operators' lists (a
global cache, refreshed every ``LISTS_TTL_S`` and at once after a change in this process) and
the rule set in force, then hands the decision to the batch (``_RiskBatch``): a PASS is stored
with the movement and counts in the velocity windows once the batch commits; a CHALLENGE or a
REJECT is stored too — it survives its own command's failure, which is what keeps the money
where it was — and the command fails with the code the client acts on (answer the challenge,
or stop). Nothing here reads another unit.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from qianbao.money_movement.context import RequestContext, decode
from qianbao.money_movement.ports import Movement
from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.errors import UnknownId
from qianbao.platform.ids import new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import Unverified, WriteContext
from qianbao.risk import payees, store
from qianbao.risk.aml import WatchList, screen_user
from qianbao.risk.counters import Counters, Event, Pending
from qianbao.risk.decide import (
    AML_KINDS,
    CHALLENGE,
    PASS,
    REJECT,
    Decision,
    Lists,
    Profile,
    State,
    decide,
    remember_row,
)
from qianbao.risk.errors import (
    ApprovalRequired,
    ChallengeRequired,
    Held,
    PartyFrozen,
    RiskRejected,
)
from qianbao.risk.model import Model
from qianbao.risk.ports import OneTimeCodes
from qianbao.risk.record import inputs_json, reasons_json, stored_event
from qianbao.risk.rules import RuleFile, RuleSet, parse_location

log = logging.getLogger("qianbao.risk")
LISTS_TTL_S = 2.0
HELD_REJECT_MS = 86_400_000  # a rejected request's key answers the same for a day
USER_KINDS = frozenset({"PAY", "TRANSFER", "WITHDRAW", "TOPUP"})  # a payer can step up
CONTEXTS_MAX = 8192  # decoded request contexts kept (then the cache starts again)
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass
class UnitState:
    state: State
    loaded: bool = False
    snapshot_at_ms: int = 0
    # request key -> (decision id, outcome, challenge id, answered alike until ms)
    held: dict[str, tuple[str, str, str | None, int]] = field(default_factory=dict)
    rules: RuleSet | None = None  # the rule set the counters' horizon was last set from
    outbound: payees.Outbound = field(default_factory=payees.Outbound)  # views to send


CONTEXT_FIELDS = tuple(RequestContext.__dataclass_fields__)


class Shadow:
    """Shadow mode: a candidate rule set and model decide every live movement too, on the same
    state, and change nothing; each decision's inputs record the candidate's outcome when it
    differs, and ``report`` counts the differences by (live, candidate) outcome."""

    RECENT_MAX = 200

    def __init__(self, rules: RuleFile, model: Model) -> None:
        self.rules = rules
        self.model = model
        self.decided = 0
        self.differ: Counter[tuple[str, str]] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=self.RECENT_MAX)

    def compare(
        self,
        state: State,
        pending: Pending,
        lists: Lists,
        m: Movement,
        rc: RequestContext,
        now_ms: int,
        live: Decision,
        row: dict[str, Any],
    ) -> None:
        rs = self.rules.get()
        d = decide(rs, self.model, state, pending, lists, m, rc, now_ms)
        self.decided += 1
        if d.outcome == live.outcome:
            return
        self.differ[(live.outcome, d.outcome)] += 1
        seen = {
            "outcome": d.outcome,
            "score": d.score,
            "rules_version": rs.version,
            "model_version": self.model.version,
            "reasons": [r.rule for r in d.reasons],
        }
        inputs = json.loads(row["inputs"])
        row["inputs"] = json.dumps({**inputs, "shadow": seen}, separators=(",", ":"))
        self.recent.append(
            {"decision_id": row["id"], "movement_id": m.movement_id, "live": live.outcome, **seen}
        )

    def report(self) -> dict[str, Any]:
        return {
            "rules_version": self.rules.current.version,
            "model_version": self.model.version,
            "decided": self.decided,
            "differ": sum(self.differ.values()),
            "by_outcome": [
                {"live": a, "shadow": b, "count": n} for (a, b), n in sorted(self.differ.items())
            ],
            "recent": list(self.recent),
        }


@dataclass
class _Held:
    """A decision the batch keeps even when its command fails (a challenge, a rejection)."""

    decision: dict[str, Any]
    challenge: dict[str, Any] | None = None


@dataclass
class _RiskBatch:
    """Batch participant: the batch's decisions, new profile rows and pending events, and the
    transfers to other units' users (their home units are told, ``risk/payees.py``)."""

    engine: RiskEngine
    ctx: WriteContext
    passed: list[dict[str, Any]] = field(default_factory=list)
    held: list[_Held] = field(default_factory=list)
    known: list[dict[str, Any]] = field(default_factory=list)
    places: list[tuple[str, tuple[float, float, int]]] = field(default_factory=list)
    inbound: list[tuple[int, list[Any]]] = field(default_factory=list)  # (home unit, transfer)
    paid: list[str] = field(default_factory=list)  # this unit's users paid by a transfer
    pending: Pending = field(init=False)  # staged in the unit's counters
    saved: bool = False  # this batch wrote a snapshot (its events are in it)
    viewed: list[str] = field(default_factory=list)  # payees whose views this batch sent

    def __post_init__(self) -> None:
        self.unit = self.ctx.unit
        self.pending = Pending(self.engine.units[self.unit].state.counters)

    def mark(self) -> tuple[int, ...]:
        return (
            len(self.passed),
            len(self.known),
            len(self.places),
            len(self.inbound),
            len(self.paid),
            self.pending.mark(),
        )

    def rollback_to(self, mark: tuple[int, ...] | None) -> None:
        passed, known, places, inbound, paid, pending = mark or (0,) * 6
        del self.passed[passed:], self.known[known:], self.places[places:]
        del self.inbound[inbound:], self.paid[paid:]
        self.pending.rollback_to(pending)  # held decisions stay: they are the refusal's record

    def transfer(self, e: Event, first_ms: int) -> None:
        """A passed transfer: its payee's home unit is told, or its payee's view is due."""
        try:
            home = self.engine.platform.unit_of(e.payee)
        except UnknownId:  # not one of our ids (the transfer itself fails on it): nobody to tell
            return
        if home == self.unit:
            if self.engine.platform.settings.unit_count > 1:  # somebody to send its view to
                self.paid.append(e.payee)
        else:
            self.inbound.append((home, payees.inbound_item(e, first_ms)))

    def before_commit(self, tx: Tx) -> None:
        store.insert_decisions(tx, self.passed + [h.decision for h in self.held])
        store.insert_challenges(tx, [h.challenge for h in self.held if h.challenge])
        store.insert_known(tx, self.known)
        self.saved = self.engine.snapshot_if_due(tx, self.unit, self.pending)
        us = self.engine.units[self.unit]
        self.viewed = payees.send(
            self.ctx, us.state, us.outbound, self.inbound, self.paid, self.known
        )

    def after_commit(self) -> None:
        us = self.engine.units[self.unit]
        self.pending.settle(saved=self.saved)  # already in a snapshot when this batch wrote one
        us.outbound.add(self.paid)
        if self.viewed:
            us.outbound.sent(self.viewed, clock.now_ms())
        for row in self.known:
            remember_row(us.state.profiles, row["user_id"], row["kind"], row["value"], row["now"])
        for user_id, place in self.places:
            us.state.profiles.setdefault(user_id, Profile()).last_place = place
        for h in self.held:
            d = h.decision
            if d["request_key"]:
                until = h.challenge["expires"] if h.challenge else d["now"] + HELD_REJECT_MS
                us.held[d["request_key"]] = (d["id"], d["outcome"], d["challenge_id"], until)
        self.engine.after_held([h.decision for h in self.held if h.decision["outcome"] == REJECT])


class RiskEngine:
    """One per platform (wired in bootstrap as ``Ports.risk``)."""

    def __init__(self, p: Platform, rules: RuleFile, model: Model) -> None:
        self.platform = p
        self.rules = rules
        self.model = model
        self.units = [UnitState(State(Counters())) for _ in p.units]
        self._lists = Lists()
        self._lists_at = -1e9
        self._lock = threading.Lock()
        self.on_rejected: list[Any] = []  # callbacks: a rejection opens a case (service.py)
        # command type -> how to run it again once its challenge is answered (bootstrap)
        self.resumers: dict[type, Any] = {}
        self.watchlist = WatchList()  # AML (aml.py), loaded by an operator
        self.screened: dict[str, str] = {}  # user id -> its watch-list match ("" for none)
        self.shadow: Shadow | None = None  # a candidate rule set and model beside the live one
        self.codes: OneTimeCodes | None = None  # one-time codes by SMS (notices), when wired
        self._contexts: dict[str, tuple[RequestContext, str]] = {}  # see ``_context``

    # --- the port ---------------------------------------------------------------------------
    def check(self, ctx: WriteContext, movement: Movement) -> None:
        rs = self.rules.get()
        us = self._unit(ctx, rs)
        batch: _RiskBatch = ctx.participant("risk", self._batch)
        rc, rc_json = self._context(movement.context)
        self._answer_alike(us, movement, rc)
        stepped_up = bool(rc.challenge_id) and self._answered(ctx, rc, movement)
        now_ms = clock.now_ms()
        lists = self._screen(movement)
        d = decide(
            rs,
            self.model,
            us.state,
            batch.pending,
            lists,
            movement,
            rc,
            now_ms,
            stepped_up=stepped_up,
        )
        row = self._row(rs, movement, rc_json, d, now_ms, self.platform.first_bucket(ctx.unit))
        if self.shadow is not None:
            self.shadow.compare(us.state, batch.pending, lists, movement, rc, now_ms, d, row)
        if d.outcome == PASS:
            if stepped_up:  # the answered challenge is used up with the movement (a write)
                store.CHALLENGE.move(ctx.tx, rc.challenge_id, "ANSWERED", "USED")
            batch.passed.append(row)
            batch.pending.add(d.event)
            if movement.kind == "TRANSFER":
                batch.transfer(
                    d.event,
                    us.state.profile(movement.party_id).payees.get(movement.payee_id, now_ms),
                )
            self._learn(batch, movement, rc, now_ms)
            return
        if not ctx.precise:  # a refusal is decided on fresh reads: this may be a replay whose key
            raise Unverified("a refusal is confirmed precisely")  # the cache has not seen
        self._refuse(ctx, batch, rs, movement, d, row, now_ms)

    def _batch(self, ctx: WriteContext) -> _RiskBatch:
        return _RiskBatch(self, ctx)

    def _context(self, encoded: str) -> tuple[RequestContext, str]:
        """The command's request context and its JSON as a decision stores it, made once per
        distinct text (a payer's device, IP and agent repeat; a context is immutable)."""
        hit = self._contexts.get(encoded)
        if hit is None:
            if len(self._contexts) >= CONTEXTS_MAX:
                self._contexts = {}
            rc = decode(encoded)
            rc_json = _JSON({f: v for f in CONTEXT_FIELDS if (v := getattr(rc, f))})
            hit = self._contexts[encoded] = (rc, rc_json)
        return hit

    def _answer_alike(self, us: UnitState, m: Movement, rc: RequestContext) -> None:
        """A retry of a refused request (same key, challenge not answered) gets the same answer,
        with nothing new decided: idempotency for refusals."""
        hit = us.held.get(m.request_key) if m.request_key and not rc.challenge_id else None
        if hit is None or hit[3] < clock.now_ms():
            return
        decision_id, outcome, challenge_id, _ = hit
        details = {"decision_id": decision_id}
        if outcome == CHALLENGE and challenge_id:
            details["challenge_id"] = challenge_id
            kind = ApprovalRequired if m.kind == "REFUND" else ChallengeRequired
            raise kind(f"{m.kind.lower()} waits for its challenge (asked before)", details)
        raise RiskRejected("refused by risk control (asked before)", details)

    def _refuse(
        self,
        ctx: WriteContext,
        batch: _RiskBatch,
        rs: RuleSet,
        m: Movement,
        d: Decision,
        row: dict[str, Any],
        now_ms: int,
    ) -> None:
        why = "; ".join(r.rule for r in d.reasons) or "risk"
        details = {"decision_id": row["id"]}
        can_challenge = m.command is not None and (m.kind in USER_KINDS or m.kind == "REFUND")
        if d.outcome == CHALLENGE and can_challenge:
            challenge_id = new_id(int(row["id"][-2:]))  # routes to this unit, as the decision
            row["challenge_id"] = challenge_id
            method = "SECOND_OPERATOR" if m.kind == "REFUND" else "PAY_PASSWORD"
            batch.held.append(_Held(row, self._challenge_row(ctx, rs, m, row, method, now_ms)))
            details["challenge_id"] = challenge_id
            error: Held = (ApprovalRequired if method == "SECOND_OPERATOR" else ChallengeRequired)(
                f"{m.kind.lower()} needs {method.lower().replace('_', ' ')} first ({why})", details
            )
            raise error
        row["outcome"] = REJECT
        batch.held.append(_Held(row))
        if d.frozen:
            raise PartyFrozen(f"{d.frozen.split(':')[0]} is frozen", details)
        raise RiskRejected(f"refused by risk control ({why})", details)

    def _challenge_row(
        self,
        ctx: WriteContext,
        rs: RuleSet,
        m: Movement,
        row: dict[str, Any],
        method: str,
        now_ms: int,
    ) -> dict[str, Any]:
        return {
            "id": row["challenge_id"],
            "decision_id": row["id"],
            "movement_id": m.movement_id,
            "party_id": m.party_id,
            "method": method,
            "command": json.dumps(ctx.platform.commands.encode(m.command), separators=(",", ":")),
            "expires": now_ms + rs.challenge_ttl_s * 1000,
            "now": now_ms,
        }

    def _row(
        self, rs: RuleSet, m: Movement, rc_json: str, d: Decision, now_ms: int, bucket: int
    ) -> dict[str, Any]:
        inputs = inputs_json(m, rc_json, d)
        return {
            "id": new_id(bucket),
            "kind": m.kind,
            "movement_id": m.movement_id,
            "party_id": m.party_id,
            "payee_id": m.payee_id,
            "amount_fen": m.amount_fen,
            "outcome": d.outcome,
            "score": d.score,
            "reasons": reasons_json(d.reasons),
            "inputs": inputs,
            "rules_version": rs.version,
            "model_version": self.model.version,
            "challenge_id": None,
            "request_key": m.request_key or None,
            "now": now_ms,
        }

    def _learn(self, batch: _RiskBatch, m: Movement, rc: RequestContext, now_ms: int) -> None:
        """A passed movement teaches the payer's profile its device, IP and place."""
        if m.kind == "REFUND":
            return
        profile = self.units[batch.unit].state.profile(m.party_id)
        for kind, value, seen in (
            ("DEVICE", rc.device_id, profile.devices),
            ("IP", rc.ip, profile.ips),
            ("PAYEE", m.payee_id if m.kind != "WITHDRAW" else "", profile.payees),
        ):
            if value and value not in seen:
                batch.known.append(
                    {"user_id": m.party_id, "kind": kind, "value": value, "now": now_ms}
                )
        place = parse_location(rc.location)
        if place is not None:
            batch.places.append((m.party_id, (place[0], place[1], now_ms)))

    def _answered(self, ctx: WriteContext, rc: RequestContext, m: Movement) -> bool:
        """Is there an answered challenge for exactly this movement? (A read: a refusal must
        write nothing directly, so that its record survives its command.)"""
        row = store.get_challenge(ctx.db, rc.challenge_id)
        return (
            row is not None and row["status"] == "ANSWERED" and row["movement_id"] == m.movement_id
        )

    # --- the other units (risk/payees.py) -----------------------------------------------------
    def on_inbound(self, ctx: WriteContext, m: dict[str, Any]) -> None:
        """``risk.inbound``: another unit's passed transfers to this unit's users join the
        counters (with the batch) and the payer's first payment the profiles at once (the
        payee's view in this batch tells it) and as a stored row (written again on a retry)."""
        us = self._unit(ctx, self.rules.get())
        batch: _RiskBatch = ctx.participant("risk", self._batch)
        profiles = us.state.profiles
        for item in m["transfers"]:
            e, first_ms = payees.inbound_event(item)
            batch.pending.add(e)
            batch.paid.append(e.payee)
            profiles.setdefault(e.user, Profile()).payees.setdefault(e.payee, first_ms)
            row = {"user_id": e.payee, "kind": "PAYER", "value": e.user, "now": first_ms}
            batch.known.append(row)  # kept with the payee, this unit's user

    def on_views(self, ctx: WriteContext, m: dict[str, Any]) -> None:
        """``risk.payee_views``: another unit's views of its paid users, the newest kept."""
        us = self._unit(ctx, self.rules.get())
        now_ms = clock.now_ms()
        for item in m["views"]:
            payees.keep(us.state, item, now_ms)

    # --- state --------------------------------------------------------------------------------
    def warm(self, ctx: WriteContext) -> None:
        """Load the unit's state now (its profiles, the counters' events in the horizon, the
        held decisions), as the unit starts: else the first batch after a restart loads it
        while its payments wait."""
        self._unit(ctx, self.rules.get())

    def _unit(self, ctx: WriteContext, rs: RuleSet) -> UnitState:
        us = self.units[ctx.unit]
        if us.rules is not rs:  # a rule set seen for the first time: its longest window
            us.rules = rs
            us.state.counters.horizon_ms = rs.horizon_ms
        if not us.loaded:
            self._load(ctx.db, us)
        return us

    def _load(self, tx: Tx, us: UnitState) -> None:
        """Profiles, the snapshot deltas in the horizon, and every PASS stored since the last."""
        for row in store.all_known(tx):
            remember_row(
                us.state.profiles,
                str(row["user_id"]),
                str(row["kind"]),
                str(row["value"]),
                int(row["first_seen_ms"]),
            )
        counters = us.state.counters
        horizon_start = clock.now_ms() - counters.horizon_ms
        since = 0
        for snap in store.snapshots_since(tx, horizon_start):
            since = int(snap["taken_at_ms"])
            for item in json.loads(snap["body"]):
                counters.add(Event.from_list(item), saved=True)
        for row in store.held_since(tx, clock.now_ms() - HELD_REJECT_MS):
            until = row["expires_at_ms"] or int(row["created_at_ms"]) + HELD_REJECT_MS
            us.held[str(row["request_key"])] = (
                str(row["id"]),
                str(row["outcome"]),
                row["challenge_id"],
                int(until),
            )
        for row in store.passed_since(tx, max(since, horizon_start)):
            counters.add(stored_event(row))
        us.snapshot_at_ms = since or clock.now_ms()
        us.loaded = True

    def snapshot_if_due(self, tx: Tx, unit: int, pending: Pending) -> bool:
        us = self.units[unit]
        now_ms = clock.now_ms()
        if now_ms - us.snapshot_at_ms < self.rules.current.snapshot_every_s * 1000:
            return False
        counters = us.state.counters
        delta = [*counters.unsaved, *pending.events]  # this batch's too: same transaction
        store.insert_snapshot(
            tx, now_ms, json.dumps([e.as_list() for e in delta]), now_ms - counters.horizon_ms
        )
        counters.unsaved = []
        us.snapshot_at_ms = now_ms
        return True

    def _screen(self, m: Movement) -> Lists:
        """The lists, with the payer's watch-list match before a payout (read once per user
        and list: the member row through its cache)."""
        lists = self.lists()
        if m.kind in AML_KINDS and (self.watchlist.id_hashes or self.watchlist.names):
            if m.party_id not in self.screened:
                self.screened[m.party_id] = screen_user(self.platform, self.watchlist, m.party_id)
            if self.screened[m.party_id]:
                lists.aml[m.party_id] = self.screened[m.party_id]
        return lists

    def load_watchlist(self, wl: WatchList) -> None:
        self.watchlist = wl
        self.screened = {}
        self.refresh_lists()

    def lists(self) -> Lists:
        if time.monotonic() - self._lists_at >= LISTS_TTL_S:
            self.refresh_lists()
        return self._lists

    def refresh_lists(self) -> None:
        """Re-read the operators' lists, freezes and categories (global data)."""
        db = self.platform.global_db
        fresh = Lists()
        for row in store.list_entries(db):
            fresh.named(str(row["list_name"]).lower()).add(
                (str(row["kind"]).lower(), str(row["value"]))
            )
        for row in store.active_freezes(db):
            fresh.frozen.add((str(row["party_kind"]).lower(), str(row["party_id"])))
        fresh.categories = {str(r["merchant_id"]): str(r["category"]) for r in store.categories(db)}
        with self._lock:
            self._lists, self._lists_at = fresh, time.monotonic()

    def after_held(self, rejected: list[dict[str, Any]]) -> None:
        if not rejected:
            return
        for callback in self.on_rejected:
            try:
                callback(rejected)
            except Exception:  # a case not opened is logged; the decision itself is stored
                log.exception("risk: opening cases for %s rejections failed", len(rejected))
