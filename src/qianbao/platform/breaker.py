"""Circuit breakers with timeouts around every outside call (ADR 0941-circuit-breakers).

A dependency that has failed (an error or a timeout) ``failures`` times within ``window_s``
opens its breaker: calls fail at once with ``DependencyUnavailable`` (503, Retry-After) for
``open_s``; then one probe call goes through (half-open): success closes the breaker, failure
opens it again. ``decide`` and ``record`` are the pure state machine; ``Breaker`` adds the clock,
a lock and the timeout.

Nothing blocks a request thread on a dead dependency: each call runs on the breaker's own
bounded pool of ``calls_max`` threads and the caller waits at most ``timeout_s``. A call still
hanging after its timeout keeps its thread until it returns; when every thread is taken the
next call fails fast instead of queueing (a bulkhead: one slow bank cannot take the server's
threads). The answer of a call that timed out is discarded (the outcome is unknown to the
caller, who must query it later, as for any timeout).
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from prometheus_client import Counter, Gauge

from qianbao.platform.errors import DependencyUnavailable

T = TypeVar("T")
CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
STATE = Gauge(
    "qianbao_breaker_state", "Circuit breaker state (0 closed, 1 half-open, 2 open)", ["name"]
)
CALLS = Counter(
    "qianbao_breaker_calls_total", "Calls through a breaker by outcome", ["name", "outcome"]
)


class CallTimedOut(Exception):
    """The dependency did not answer within the breaker's timeout."""


@dataclass(frozen=True)
class Policy:
    failures: int = 5
    window_s: float = 10.0
    open_s: float = 5.0
    timeout_s: float = 2.0
    calls_max: int = 32


@dataclass(frozen=True)
class State:
    state: str = CLOSED
    failures: tuple[float, ...] = ()  # when the recent failures happened (monotonic seconds)
    opened_at_s: float = -math.inf
    probing: bool = False


def decide(policy: Policy, s: State, now_s: float) -> tuple[State, bool]:
    """May a call go now? Open turns half-open after ``open_s``; half-open lets one probe."""
    if s.state == OPEN and now_s - s.opened_at_s >= policy.open_s:
        s = replace(s, state=HALF_OPEN, probing=False)
    if s.state == OPEN:
        return s, False
    if s.state == HALF_OPEN:
        if s.probing:
            return s, False
        return replace(s, probing=True), True
    return s, True


def record(policy: Policy, s: State, ok: bool, now_s: float) -> State:
    """The state after a call's outcome."""
    if ok:
        return State() if s.state != CLOSED else replace(s, failures=())
    if s.state == HALF_OPEN:
        return State(OPEN, (), now_s)
    recent = tuple(t for t in s.failures if now_s - t < policy.window_s) + (now_s,)
    if len(recent) >= policy.failures:
        return State(OPEN, (), now_s)
    return replace(s, failures=recent)


class Breaker:
    def __init__(self, name: str, policy: Policy) -> None:
        self.name = name
        self.policy = policy
        self.state = State()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(policy.calls_max)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            policy.calls_max, thread_name_prefix=f"breaker-{name}"
        )
        STATE.labels(name).set(0)

    def _set(self, state: State) -> None:
        self.state = state
        STATE.labels(self.name).set(_STATE_VALUE[state.state])

    def retry_after_s(self) -> int:
        left_s = self.policy.open_s - (time.monotonic() - self.state.opened_at_s)
        return max(1, math.ceil(min(left_s, self.policy.open_s)))

    def call(
        self,
        fn: Callable[[], T],
        *,
        counts: Callable[[BaseException], bool] | None = None,
        failed: Callable[[T], bool] | None = None,
    ) -> T:
        """``fn()`` within the timeout, if the breaker lets it through. An exception for which
        ``counts`` is false (a bank declining a card) is an answer, not a failure; a result for
        which ``failed`` is true (a webhook answered 500) is returned but counts as one."""
        with self._lock:
            state, allowed = decide(self.policy, self.state, time.monotonic())
            self._set(state)
        if not allowed:
            CALLS.labels(self.name, "rejected").inc()
            raise DependencyUnavailable(
                f"{self.name} is unavailable (circuit open); not called", self.retry_after_s()
            )
        if not self._slots.acquire(blocking=False):
            self._outcome(False, "busy")
            raise DependencyUnavailable(f"{self.name}: every call is waiting on it", 1)
        future = self._pool.submit(fn)
        future.add_done_callback(lambda _f: self._slots.release())
        try:
            result = future.result(timeout=self.policy.timeout_s)
        except concurrent.futures.TimeoutError:
            self._outcome(False, "timeout")
            raise CallTimedOut(
                f"{self.name} did not answer in {self.policy.timeout_s:g} s"
            ) from None
        except Exception as exc:
            self._outcome(counts is not None and not counts(exc), "error")
            raise
        bad = failed is not None and failed(result)
        self._outcome(not bad, "error")
        return result

    def _outcome(self, ok: bool, label: str) -> None:
        CALLS.labels(self.name, "ok" if ok else label).inc()
        with self._lock:
            self._set(record(self.policy, self.state, ok, time.monotonic()))

    def describe(self) -> dict[str, object]:
        s = self.state
        return {
            "name": self.name,
            "state": s.state,
            "recent_failures": len(s.failures),
            "failures_to_open": self.policy.failures,
            "open_s": self.policy.open_s,
            "timeout_s": self.policy.timeout_s,
        }

    def reset(self) -> None:
        with self._lock:
            self._set(State())


class Breakers:
    """Every breaker of one process, by name (``bank.SIMBANK``, ``webhooks``, ``notices``)."""

    def __init__(self, failures: int, window_s: float, open_s: float, calls_max: int) -> None:
        self.base = Policy(failures, window_s, open_s, 2.0, calls_max)
        self._all: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def get(self, name: str, timeout_s: float) -> Breaker:
        with self._lock:
            if name not in self._all:
                self._all[name] = Breaker(name, replace(self.base, timeout_s=timeout_s))
            return self._all[name]

    def describe(self) -> list[dict[str, object]]:
        return [b.describe() for b in sorted(self._all.values(), key=lambda b: b.name)]
