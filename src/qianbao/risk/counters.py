"""Velocity over sliding windows, in memory per unit.

Every movement that went through becomes one ``Event``; each dimension (user, device, IP, payee,
merchant) keeps, per key, the events of the last ``horizon_ms`` in time order with running
sums, so a window of any length up to the horizon is answered with one binary search: a window
of ``w`` at ``now`` holds the events with ``now - w < at_ms <= now`` (an event exactly ``w``
old has left it). A batch's own movements are staged in the logs at once (``Pending``: they
count for the later commands of the batch, a failing command's is taken back from the logs'
tails, and they become committed with the batch). A distinct count (of users on a device, of
payees of a user) looks at the window's newest ``DISTINCT_EVENTS_MAX`` events: exact up to
that many, a lower bound beyond (a rule "more than N distinct" with N below the bound is
exact); a busy key keeps a running tally of its newest events' values for each dimension
asked (``EventLog.tail``), so its distinct count is a lookup. The logs are rebuilt at start
from the durable snapshots (each the delta of events since the one before, so writing one
costs what the traffic since did) plus the decisions stored since the last
(``engine.RiskEngine._load``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable
from operator import itemgetter
from typing import Any, NamedTuple

DIMENSIONS = ("user", "device", "ip", "payee", "merchant")
DAY_MS = 86_400_000
HORIZON_MAX_MS = 31 * DAY_MS
EVENTS_PER_KEY_MAX = 20_000  # a key past this forgets its oldest events (a hot merchant)
DISTINCT_EVENTS_MAX = 64  # a distinct count looks at the window's newest events only
TAIL_MAX = DISTINCT_EVENTS_MAX
TAIL_OUT = DISTINCT_EVENTS_MAX + 1  # the event that leaves the newest when one arrives
LIMITS_FEN = (500_000, 1_000_000, 2_000_000, 5_000_000)  # round amounts people stay under
NEAR_LOW_FEN, NEAR_HIGH_FEN = int(0.9 * min(LIMITS_FEN)), max(LIMITS_FEN)


def near_limit(amount_fen: int) -> bool:
    """Just under a round limit (within 10 %): a log keeps how many of its events are, like
    its sums (``EventLog.near``), for the features (``features.py``)."""
    if amount_fen < NEAR_LOW_FEN or amount_fen >= NEAR_HIGH_FEN:  # most amounts: one test
        return False
    return any(0.9 * limit <= amount_fen < limit for limit in LIMITS_FEN)


def _untally(tally: dict[str, int], value: str) -> None:
    left = tally[value] - 1
    if left:
        tally[value] = left
    else:
        del tally[value]


class Event(NamedTuple):
    """One committed movement as the counters see it (a plain tuple: cheap to make and keep)."""

    at_ms: int
    amount_fen: int
    kind: str
    user: str
    payee: str
    device: str
    ip: str
    merchant: str

    def key(self, dimension: str) -> str:
        value: str = GET[dimension](self)
        return value

    def as_list(self) -> list[str | int]:
        return list(self)

    @staticmethod
    def from_list(v: list[str | int]) -> Event:
        return Event(int(v[0]), int(v[1]), *(str(x) for x in v[2:]))  # type: ignore[arg-type]


GET = {name: itemgetter(i) for i, name in enumerate(Event._fields)}  # field -> its getter
_KEYED = tuple((d, GET[d]) for d in DIMENSIONS)  # (dimension, its value's getter)


class Window:
    """A window's ``count`` and ``sum_fen``, and its newest ``DISTINCT_EVENTS_MAX`` events
    (``events``, oldest first; gathered only when read)."""

    __slots__ = (
        "count",
        "sum_fen",
        "_events",
        "_log",
        "_first",
        "_end",
        "_values",
        "_start",
        "_tallied",
    )

    def __init__(
        self,
        count: int,
        sum_fen: int,
        log: EventLog | None = None,
        first: int = 0,
        end: int = 0,
        start: int = 0,
    ) -> None:
        self.count = count
        self.sum_fen = sum_fen
        self._events: tuple[Event, ...] | None = None if log is not None else ()
        self._log, self._first, self._end = log, first, end
        self._start = start  # the window's oldest event (``first``: its oldest of the newest)
        self._values: dict[str, Collection[str]] | None = None
        # its events are the log's newest (its tallies count them): None until asked, or
        # ``Look``'s answer when it made the window (the log does not change within a decision)
        self._tallied: bool | None = None

    @property
    def events(self) -> tuple[Event, ...]:
        events = self._events
        if events is None:
            assert self._log is not None
            events = self._events = tuple(self._log.events[self._first : self._end])
        return events

    def newest(self) -> Event | None:
        """The window's newest event (None for an empty window)."""
        log = self._log
        return log.events[self._end - 1] if log is not None and self.count else None

    def near_limits(self) -> int:
        """How many of ``events`` are ``near_limit`` (from the log's running count)."""
        log = self._log
        if log is None or not self.count:
            return 0
        near, first = log.near, self._first
        return near[self._end - 1] - (near[first - 1] if first else 0)

    def seen(self, dimension: str) -> Collection[str]:
        """The distinct values of ``dimension`` among ``events`` (gathered once a window; a
        window of a log's newest ``DISTINCT_EVENTS_MAX`` events reads the log's running tally:
        valid until the log changes, as the window's count)."""
        log, tallied = self._log, self._tallied
        if tallied is None:
            end = self._end
            tallied = (
                log is not None and end == len(log.events) and self._first == max(0, end - TAIL_MAX)
            )
        if tallied and log is not None:
            return log.tail(dimension)  # the log's newest: its tally
        known = self._values
        if known is None:
            known = self._values = {}
        values = known.get(dimension)
        if values is None:
            values = known[dimension] = frozenset(map(GET[dimension], self.events))
        return values

    def values(self, dimension: str) -> frozenset[str]:
        """The distinct values of ``dimension`` among ``events`` (a set of its own)."""
        values = self.seen(dimension)
        return values if isinstance(values, frozenset) else frozenset(values)

    def distinct(self, dimension: str, but: str = "") -> int:
        """How many distinct values of ``dimension`` other than ``but`` ``events`` hold."""
        values = self.seen(dimension)
        return len(values) - (but in values)


EMPTY = Window(0, 0)


class EventLog:
    """One key's events, oldest first, with cumulative amounts (``cum[i]``: events 0..i), and
    for the dimensions a distinct count asked of its newest events, a running tally of their
    values over the newest ``DISTINCT_EVENTS_MAX`` events (``tail``: kept as events come and
    go, so the distinct count of a window that holds the log's newest events — a busy key's,
    or all of a young key's — costs a lookup, not a pass over its events). ``near[i]``: how
    many of events 0..i are ``near_limit`` (a window's count is a subtraction, as its sum)."""

    __slots__ = ("at", "cum", "near", "events", "head", "tails")

    def __init__(self) -> None:
        self.at: list[int] = []
        self.cum: list[int] = []
        self.near: list[int] = []
        self.events: list[Event] = []
        self.head = 0
        self.tails: dict[str, tuple[itemgetter[Any], dict[str, int]]] = {}  # dimension ->

    def add(self, e: Event) -> None:
        at, amount = self.at, e.amount_fen
        near = NEAR_LOW_FEN <= amount < NEAR_HIGH_FEN and near_limit(amount)
        if at:
            last = at[-1]
            at.append(e.at_ms if e.at_ms > last else last)  # time never runs backwards in a log
            self.cum.append(self.cum[-1] + amount)
            self.near.append(self.near[-1] + near)
        else:
            at.append(e.at_ms)
            self.cum.append(amount)
            self.near.append(int(near))
        events = self.events
        events.append(e)
        if self.tails:
            left = events[-TAIL_OUT] if len(events) >= TAIL_OUT else None
            for get, tally in self.tails.values():
                value = get(e)
                tally[value] = tally.get(value, 0) + 1
                if left is not None:
                    _untally(tally, get(left))

    def pop(self) -> None:
        """Take back the newest event."""
        self.at.pop(), self.cum.pop(), self.near.pop()
        events = self.events
        e = events.pop()
        self.head = min(self.head, len(events))
        if self.tails:
            back = events[-DISTINCT_EVENTS_MAX] if len(events) >= DISTINCT_EVENTS_MAX else None
            for get, tally in self.tails.values():
                _untally(tally, get(e))
                if back is not None:
                    value = get(back)
                    tally[value] = tally.get(value, 0) + 1

    def tail(self, dimension: str) -> dict[str, int]:
        """The running tally of ``dimension``'s values among the newest events (made at the
        first request, then kept)."""
        held = self.tails.get(dimension)
        if held is not None:
            return held[1]
        get = GET[dimension]
        tally = dict(Counter(map(get, self.events[-DISTINCT_EVENTS_MAX:])))
        self.tails[dimension] = (get, tally)
        return tally

    def forget_before(self, oldest_ms: int) -> None:
        """Drop events at or before ``oldest_ms`` (and past the per-key bound)."""
        self.head = max(self.head, bisect_right(self.at, oldest_ms, self.head))
        self.head = max(self.head, len(self.at) - EVENTS_PER_KEY_MAX)
        if self.head > 256 and self.head * 2 > len(self.at):
            head = self.head  # running sums and counts start again at the first kept event
            near, cum = self.near[head - 1], self.cum[head - 1]
            self.near = [n - near for n in self.near[head:]]
            self.cum = [c - cum for c in self.cum[head:]]
            del self.at[:head], self.events[:head]
            self.head = 0
            if len(self.events) < DISTINCT_EVENTS_MAX:  # the tallies counted what went
                self.tails = {}

    def window(self, now_ms: int, window_ms: int, *, with_events: bool = True) -> Window:
        """The events with ``now - w < at_ms <= now`` (``with_events`` is kept for callers:
        the events are gathered only when read)."""
        return _span(self, now_ms, window_ms)

    def last(self) -> Event | None:
        return self.events[-1] if len(self.events) > self.head else None

    def live(self) -> list[Event]:
        return self.events[self.head :]


class Counters:
    """All dimensions of one unit: the committed events, then the running batch's (``staged``,
    through its ``Pending``)."""

    def __init__(self, horizon_ms: int = DAY_MS) -> None:
        self.horizon_ms = min(horizon_ms, HORIZON_MAX_MS)
        self.logs: dict[str, dict[str, EventLog]] = {d: {} for d in DIMENSIONS}
        self.events = 0
        self.unsaved: list[Event] = []  # committed since the last snapshot (its next delta)
        self.staged: list[Event] = []  # the running batch's, in the logs already (``Pending``)

    def add(self, e: Event, *, saved: bool = False) -> None:
        """A committed event (nothing staged: a batch settles its own with ``Pending``)."""
        self._append(e)
        self.events += 1
        if not saved:
            self.unsaved.append(e)

    def _append(self, e: Event) -> None:
        logs = self.logs
        for dimension, get in _KEYED:
            key = get(e)
            if not key:
                continue
            log = logs[dimension].get(key)
            if log is None:
                log = logs[dimension][key] = EventLog()
            log.add(e)
            if len(log.at) & 63 == 0:  # amortised: forget old events every 64 additions
                log.forget_before(e.at_ms - self.horizon_ms)

    def _take_back(self, e: Event) -> None:
        """Remove ``e``, the newest event of each of its logs."""
        logs = self.logs
        for dimension, get in _KEYED:
            key = get(e)
            if key:
                logs[dimension][key].pop()

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
    """A batch's events, staged in its unit's counters: each counts at once for the batch's
    later commands (one log per key, nothing to merge), a failing command's is taken back
    (``rollback_to``), and ``settle`` makes them committed once the batch has. Events a batch
    left staged without settling (an attempt the writer gave up, a batch that failed whole) are
    taken back when the next batch starts."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.rollback_to(0)  # what an unfinished batch before left

    @property
    def events(self) -> list[Event]:
        return self.counters.staged

    def add(self, e: Event) -> None:
        self.counters._append(e)
        self.counters.staged.append(e)

    def mark(self) -> int:
        return len(self.counters.staged)

    def rollback_to(self, mark: int) -> None:
        staged = self.counters.staged
        while len(staged) > mark:
            self.counters._take_back(staged.pop())

    def settle(self, *, saved: bool) -> None:
        """The batch committed: its events are the counters' own (``saved``: already in the
        snapshot the batch wrote)."""
        counters = self.counters
        counters.events += len(counters.staged)
        if not saved:
            counters.unsaved += counters.staged
        counters.staged = []


def _span(log: EventLog, now_ms: int, window_ms: int) -> Window:
    """``log``'s window (``now - w``, ``now``]."""
    at = log.at
    start = bisect_right(at, now_ms - window_ms, log.head)
    end = len(at)
    if end and at[-1] > now_ms:
        end = bisect_right(at, now_ms, start)
    if end <= start:
        return EMPTY
    cum = log.cum
    total = cum[end - 1] - (cum[start - 1] if start > 0 else 0)
    return Window(end - start, total, log, max(end - DISTINCT_EVENTS_MAX, start), end, start)


def window(counters: Counters, dimension: str, key: str, now_ms: int, window_ms: int) -> Window:
    """The events of ``key`` (the batch's staged ones included) in (``now - w``, ``now``]."""
    log = counters.logs[dimension].get(key) if key else None
    return _span(log, now_ms, window_ms) if log is not None else EMPTY


class Look:
    """The windows one decision asks for, each computed once (rules and features share them)."""

    __slots__ = ("logs", "now_ms", "memo", "spans")

    def __init__(self, counters: Counters, now_ms: int) -> None:
        self.logs = counters.logs
        self.now_ms = now_ms
        self.memo: dict[tuple[str, str, int], Window] = {}
        # (log, first, end) -> the first window with those newest events: a window of the key
        # that holds the same events is that object (a young key's windows, a busy key's
        # short ones), a longer one shares its distinct values
        self.spans: dict[tuple[EventLog, int, int], Window] = {}

    def __call__(self, dimension: str, key: str, window_ms: int) -> Window:
        """The window (its events are gathered when read); a count or a sum reads the same
        object."""
        ident = (dimension, key, window_ms)
        hit = self.memo.get(ident)
        if hit is not None:
            return hit
        log = self.logs[dimension].get(key) if key else None
        if log is None:
            hit = self.memo[ident] = EMPTY
            return hit
        at, now_ms = log.at, self.now_ms
        start = bisect_right(at, now_ms - window_ms, log.head)
        end = len(at)
        if end and at[-1] > now_ms:
            end = bisect_right(at, now_ms, start)
        if end <= start:
            hit = self.memo[ident] = EMPTY
            return hit
        first = end - DISTINCT_EVENTS_MAX
        if first < start:
            first = start
        span = (log, first, end)
        same = self.spans.get(span)
        if same is not None and same._start == start:
            hit = self.memo[ident] = same  # the same events: the same count, sum and values
            return hit
        cum = log.cum
        total = cum[end - 1] - (cum[start - 1] if start > 0 else 0)
        hit = self.memo[ident] = Window(end - start, total, log, first, end, start)
        hit._tallied = end == len(at) and first == (end - TAIL_MAX if end > TAIL_MAX else 0)
        if same is None:
            self.spans[span] = hit
        else:  # the same newest events: their distinct values are gathered once
            if same._values is None:
                same._values = {}
            hit._values = same._values
        return hit

    def count(self, dimension: str, key: str, window_ms: int) -> int:
        """How many events the window holds (as ``self(...).count``, without the window)."""
        hit = self.memo.get((dimension, key, window_ms))
        if hit is not None:
            return hit.count
        log = self.logs[dimension].get(key) if key else None
        if log is None:
            return 0
        at, now_ms = log.at, self.now_ms
        start = bisect_right(at, now_ms - window_ms, log.head)
        end = len(at)
        if end and at[-1] > now_ms:
            end = bisect_right(at, now_ms, start)
        return end - start if end > start else 0
