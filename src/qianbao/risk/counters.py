"""Velocity over sliding windows, in memory per unit.

Every movement that went through becomes one ``Event``; each dimension (user, device, IP, payee,
merchant) keeps, per key, the events of the last ``horizon_ms`` in time order with running
sums, so a window of any length up to the horizon is answered with one binary search: a window
of ``w`` at ``now`` holds the events with ``now - w < at_ms <= now`` (an event exactly ``w``
old has left it). A batch's own movements wait in ``Pending`` (they count for the later
commands of the batch, and vanish with a command that fails) and join the logs when the batch
commits. A distinct count (of users on a device, of payees of a user) looks at the window's
newest ``DISTINCT_EVENTS_MAX`` events: exact up to that many, a lower bound beyond (a rule
"more than N distinct" with N below the bound is exact). The logs are rebuilt at start from
the durable snapshots (each the delta of events since the one before, so writing one costs what
the traffic since did) plus the decisions stored since the last (``engine.RiskEngine._load``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

DIMENSIONS = ("user", "device", "ip", "payee", "merchant")
DAY_MS = 86_400_000
HORIZON_MAX_MS = 31 * DAY_MS
EVENTS_PER_KEY_MAX = 20_000  # a key past this forgets its oldest events (a hot merchant)
DISTINCT_EVENTS_MAX = 64  # a distinct count looks at the window's newest events only


@dataclass(frozen=True, slots=True)
class Event:
    at_ms: int
    amount_fen: int
    kind: str
    user: str
    payee: str
    device: str
    ip: str
    merchant: str

    def key(self, dimension: str) -> str:
        value: str = getattr(self, dimension)
        return value

    def as_list(self) -> list[str | int]:
        return [
            self.at_ms,
            self.amount_fen,
            self.kind,
            self.user,
            self.payee,
            self.device,
            self.ip,
            self.merchant,
        ]

    @staticmethod
    def from_list(v: list[str | int]) -> Event:
        return Event(int(v[0]), int(v[1]), *(str(x) for x in v[2:]))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Window:
    count: int
    sum_fen: int
    events: tuple[Event, ...] | None = None  # only when asked (distinct counts)

    def distinct(self, dimension: str) -> int:
        return len({e.key(dimension) for e in self.events or ()} - {""})


class EventLog:
    """One key's events, oldest first, with cumulative amounts (``cum[i]``: events 0..i)."""

    __slots__ = ("at", "cum", "events", "head")

    def __init__(self) -> None:
        self.at: list[int] = []
        self.cum: list[int] = []
        self.events: list[Event] = []
        self.head = 0

    def add(self, e: Event) -> None:
        last = self.at[-1] if self.at else e.at_ms
        self.at.append(max(e.at_ms, last))  # time never runs backwards inside a log
        self.cum.append((self.cum[-1] if self.cum else 0) + e.amount_fen)
        self.events.append(e)

    def forget_before(self, oldest_ms: int) -> None:
        """Drop events at or before ``oldest_ms`` (and past the per-key bound)."""
        self.head = max(self.head, bisect_right(self.at, oldest_ms, self.head))
        self.head = max(self.head, len(self.at) - EVENTS_PER_KEY_MAX)
        if self.head > 256 and self.head * 2 > len(self.at):
            del self.at[: self.head], self.cum[: self.head], self.events[: self.head]
            self.head = 0

    def window(self, now_ms: int, window_ms: int, *, with_events: bool = False) -> Window:
        start = bisect_right(self.at, now_ms - window_ms, self.head)
        end = bisect_right(self.at, now_ms, start)
        if end <= start:
            return Window(0, 0, () if with_events else None)
        before = self.cum[start - 1] if start > 0 else 0
        first = max(start, end - DISTINCT_EVENTS_MAX)
        events = tuple(self.events[first:end]) if with_events else None
        return Window(end - start, self.cum[end - 1] - before, events)

    def last(self) -> Event | None:
        return self.events[-1] if len(self.events) > self.head else None

    def live(self) -> list[Event]:
        return self.events[self.head :]


class Counters:
    """All dimensions of one unit."""

    def __init__(self, horizon_ms: int = DAY_MS) -> None:
        self.horizon_ms = min(horizon_ms, HORIZON_MAX_MS)
        self.logs: dict[str, dict[str, EventLog]] = {d: {} for d in DIMENSIONS}
        self.events = 0
        self.unsaved: list[Event] = []  # committed since the last snapshot (its next delta)

    def add(self, e: Event, *, saved: bool = False) -> None:
        for dimension in DIMENSIONS:
            key = e.key(dimension)
            if not key:
                continue
            log = self.logs[dimension].get(key)
            if log is None:
                log = self.logs[dimension][key] = EventLog()
            log.add(e)
            if len(log.at) & 63 == 0:  # amortised: forget old events every 64 additions
                log.forget_before(e.at_ms - self.horizon_ms)
        self.events += 1
        if not saved:
            self.unsaved.append(e)

    def log(self, dimension: str, key: str) -> EventLog | None:
        return self.logs[dimension].get(key) if key else None

    def all_events(self) -> Iterable[Event]:
        """Every live event once (each has a user), oldest first per user."""
        for log in self.logs["user"].values():
            yield from log.live()

    def prune(self, now_ms: int) -> None:
        for logs in self.logs.values():
            for log in logs.values():
                log.forget_before(now_ms - self.horizon_ms)
            for key in [k for k, log in logs.items() if len(log.at) == log.head]:
                del logs[key]


class Pending:
    """The running batch's events, by (dimension, key), each key a small ``EventLog``; undone
    with a failing command."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.index: dict[tuple[str, str], EventLog] = {}

    def add(self, e: Event) -> None:
        self.events.append(e)
        for dimension in DIMENSIONS:
            key = e.key(dimension)
            if key:
                log = self.index.get((dimension, key))
                if log is None:
                    log = self.index[(dimension, key)] = EventLog()
                log.add(e)

    def of(self, dimension: str, key: str) -> EventLog | None:
        return self.index.get((dimension, key))

    def mark(self) -> int:
        return len(self.events)

    def rollback_to(self, mark: int) -> None:
        while len(self.events) > mark:
            e = self.events.pop()
            for dimension in DIMENSIONS:
                key = e.key(dimension)
                if key:
                    log = self.index[(dimension, key)]
                    log.at.pop(), log.cum.pop(), log.events.pop()


def window(
    counters: Counters,
    pending: Pending | None,
    dimension: str,
    key: str,
    now_ms: int,
    window_ms: int,
    *,
    with_events: bool = False,
) -> Window:
    """The committed events plus the batch's pending ones, in the window (``now - w``, ``now``]."""
    if not key:
        return Window(0, 0, () if with_events else None)
    log = counters.log(dimension, key)
    base = log.window(now_ms, window_ms, with_events=with_events) if log else Window(0, 0, ())
    mine = pending.of(dimension, key) if pending else None
    extra = mine.window(now_ms, window_ms, with_events=with_events) if mine else None
    if not extra or not extra.count:
        return base
    events = None
    if with_events:
        events = (*(base.events or ()), *(extra.events or ()))[-DISTINCT_EVENTS_MAX:]
    return Window(base.count + extra.count, base.sum_fen + extra.sum_fen, events)


class Look:
    """The windows one decision asks for, each computed once (rules and features share them)."""

    __slots__ = ("counters", "pending", "now_ms", "memo")

    def __init__(self, counters: Counters, pending: Pending | None, now_ms: int) -> None:
        self.counters = counters
        self.pending = pending
        self.now_ms = now_ms
        self.memo: dict[tuple[str, str, int], Window] = {}

    def __call__(self, dimension: str, key: str, window_ms: int) -> Window:
        """The window with its (newest) events; a count or a sum reads the same object."""
        ident = (dimension, key, window_ms)
        hit = self.memo.get(ident)
        if hit is None:
            hit = self.memo[ident] = window(
                self.counters,
                self.pending,
                dimension,
                key,
                self.now_ms,
                window_ms,
                with_events=True,
            )
        return hit
