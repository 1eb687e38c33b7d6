"""A payee's home unit's view of the transfers to it, for the other units (ADR 0621).

A decision reads only its own unit, the payer's (ADR 0600): with the parties spread over units,
a transfer's payee-side features (its other payers, how many are new to it and came back) saw
only the payers of the payer's unit. Two messages on the outbox/inbox path (at least once, each
handled once by the inbox) give every unit a slightly late view of the others' payees:

- ``INBOUND``, from the payer's unit to the payee's home unit, one message per destination unit
  per batch: the batch's passed transfers to that unit's users, each with when the payer first
  paid the payee. The home unit adds them to its counters (without the payer's device and IP)
  and the first payment to its profiles: it sees every transfer to its users, from any unit (and
  so its users' inflow too).
- ``VIEWS``, from the home unit to every other unit, at most every ``PUBLISH_EVERY_MS``: for each
  of its users paid since the last, a ``PayeeView`` (the window's count and its newest
  ``DISTINCT_EVENTS_MAX`` transfers: time, payer, payer's first payment; a few kilobytes at
  most). The receiving unit keeps the newest view per payee (``State.views``); a late or
  redelivered older one changes nothing, and ``features._to_payee`` counts a transfer that is
  both in the view and in its own counters once.

Pure functions over a unit's ``State``; the engine sends and consumes the messages, the
evaluation's replay delivers them after ``RELAY_DELAY_MS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from qianbao.platform import messages
from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.writer import WriteContext
from qianbao.risk.counters import Event, window
from qianbao.risk.decide import State
from qianbao.risk.features import PAYEE_WINDOW_MS, PayeeView, Payer

INBOUND = "risk.inbound"
VIEWS = "risk.payee_views"
PUBLISH_EVERY_MS = 60_000  # a unit sends its paid payees' views at most this often
RELAY_DELAY_MS = 2_000  # the replay's delivery time of one message (live: the relay's own)
VIEWS_PER_MESSAGE_MAX = 256
VIEWS_PER_PUBLISH_MAX = 4096  # payees viewed in one batch; the others wait for the next
VIEWS_KEPT_MAX = 200_000  # other units' payees a unit holds a view of (then the oldest go)


def inbound_item(e: Event, first_ms: int) -> list[Any]:
    """A passed transfer as ``INBOUND`` carries it."""
    return [e.at_ms, e.amount_fen, e.user, e.payee, first_ms]


def inbound_event(item: list[Any]) -> tuple[Event, int]:
    """An ``INBOUND`` transfer as the payee's home unit counts it (no device, IP or merchant:
    those are the payer's unit's), and when its payer first paid the payee."""
    at_ms, amount_fen, payer, payee, first_ms = item
    e = Event(int(at_ms), int(amount_fen), "TRANSFER", str(payer), str(payee), "", "", "")
    return e, int(first_ms)


First = dict[tuple[str, str], int]  # (payer, payee) -> first paid, not in the profiles yet


def view_of(state: State, payee: str, now_ms: int, batch_firsts: First | None = None) -> PayeeView:
    """``payee``'s transfers of the last ``PAYEE_WINDOW_MS`` as this unit (its home) holds them
    (``batch_firsts``: the running batch's first payments, which its commit will remember)."""
    w = window(state.counters, "payee", payee, now_ms, PAYEE_WINDOW_MS)
    payers = []
    for x in w.events:
        first_ms = state.first_paid(x.user, payee)
        if first_ms is None and batch_firsts:
            first_ms = batch_firsts.get((x.user, payee))
        payers.append(Payer(x.at_ms, x.user, -1 if first_ms is None else first_ms))
    return PayeeView(now_ms, w.count, tuple(payers))


def encode(payee: str, v: PayeeView) -> list[Any]:
    return [payee, v.as_of_ms, v.count, [list(p) for p in v.payers]]


def keep(state: State, item: list[Any], now_ms: int) -> bool:
    """A received view, kept unless the one held is as new (False then)."""
    payee, as_of_ms, count, payers = item
    held = state.views.get(payee)
    if held is not None and held.as_of_ms >= as_of_ms:
        return False
    if len(state.views) >= VIEWS_KEPT_MAX and held is None:
        forget_old(state.views, now_ms)
    state.views[str(payee)] = PayeeView(
        int(as_of_ms),
        int(count),
        tuple(Payer(int(at), str(payer), int(first)) for at, payer, first in payers),
    )
    return True


def forget_old(views: dict[str, PayeeView], now_ms: int) -> None:
    """Drop the views past the window; if that frees nothing, the older half."""
    cutoff = now_ms - PAYEE_WINDOW_MS
    for payee in [k for k, v in views.items() if v.as_of_ms <= cutoff]:
        del views[payee]
    if len(views) >= VIEWS_KEPT_MAX:
        newest = sorted(views.items(), key=lambda kv: kv[1].as_of_ms)[len(views) // 2 :]
        views.clear()
        views.update(newest)


@dataclass
class Outbound:
    """One unit's users paid since its views were last sent, the longest waiting first."""

    paid: dict[str, None] = field(default_factory=dict)
    sent_ms: int = -PUBLISH_EVERY_MS

    def add(self, payees: Iterable[str]) -> None:
        self.paid.update(dict.fromkeys(payees))

    def due(self, now_ms: int) -> bool:
        return bool(self.paid) and now_ms - self.sent_ms >= PUBLISH_EVERY_MS

    def peek(self, also: Iterable[str] = ()) -> list[str]:
        """The payees to view now, with ``also`` (at most ``VIEWS_PER_PUBLISH_MAX``)."""
        waiting = dict.fromkeys(islice(self.paid, VIEWS_PER_PUBLISH_MAX))
        waiting.update(dict.fromkeys(also))
        return list(waiting)[:VIEWS_PER_PUBLISH_MAX]

    def sent(self, payees: list[str], now_ms: int) -> None:
        for payee in payees:
            self.paid.pop(payee, None)
        self.sent_ms = now_ms


def messages_of(
    state: State, payees: Iterable[str], now_ms: int, batch_firsts: First | None = None
) -> list[dict[str, Any]]:
    """The ``VIEWS`` payloads for ``payees`` (each at most ``VIEWS_PER_MESSAGE_MAX`` views)."""
    items = [encode(p, view_of(state, p, now_ms, batch_firsts)) for p in payees]
    return [
        {"views": items[i : i + VIEWS_PER_MESSAGE_MAX]}
        for i in range(0, len(items), VIEWS_PER_MESSAGE_MAX)
    ]


TRANSFERS_PER_MESSAGE_MAX = 1000


def send(
    ctx: WriteContext,
    state: State,
    out: Outbound,
    inbound: list[tuple[int, list[Any]]],
    paid: list[str],
    known: list[dict[str, Any]],
) -> list[str]:
    """In a batch's transaction (``send_at_commit``): its transfers to other units' users, one
    message per home unit; and, when due, the views of this unit's users paid since the last
    (``paid``: by this batch, whose new ``known`` rows say when a payer first paid), to every
    other unit. The payees viewed are returned (``out`` forgets them once the batch has
    committed)."""
    by_home: dict[int, list[list[Any]]] = {}
    for home, item in inbound:
        by_home.setdefault(home, []).append(item)
    for home, items in by_home.items():
        for i in range(0, len(items), TRANSFERS_PER_MESSAGE_MAX):
            chunk = items[i : i + TRANSFERS_PER_MESSAGE_MAX]
            messages.send_at_commit(ctx, home, INBOUND, {"unit": ctx.unit, "transfers": chunk})
    now_ms = clock.now_ms()
    if not (paid or out.paid) or now_ms - out.sent_ms < PUBLISH_EVERY_MS:
        return []
    chosen = out.peek(paid)
    others = [u for u in range(ctx.platform.settings.unit_count) if u != ctx.unit]
    firsts = {(r["user_id"], r["value"]): r["now"] for r in known if r["kind"] == "PAYEE"}
    firsts |= {(r["value"], r["user_id"]): r["now"] for r in known if r["kind"] == "PAYER"}
    for payload in messages_of(state, chosen, now_ms, firsts):
        for unit in others:
            messages.send_at_commit(ctx, unit, VIEWS, payload)
    return chosen


def committed(tx: Tx, m: dict[str, Any]) -> bool:
    """Check-back: a message of these topics is written in its batch's own transaction, so one
    that exists was committed."""
    return True
